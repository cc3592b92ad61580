import { ConnectorError } from '@gatehouse/connector-kit';
import type { GitHubApi, GitHubTeam } from './api.ts';
import type { GitHubConfig } from './config.ts';

export type TeamNameField = GitHubConfig['teamNameField'];

export interface OrgRule {
  name: string;
  /** Empty or absent: any member of the organisation. */
  teams?: string[];
}

/** The names a team is known by under `teamNameField` (`both`: name and slug). */
export function teamNames(team: GitHubTeam, field: TeamNameField): string[] {
  if (field === 'name') return [team.name];
  if (field === 'slug') return [team.slug];
  return team.name === team.slug ? [team.name] : [team.name, team.slug];
}

/** The organisations that gate login: `orgs`, or the legacy `org` as one rule without teams. */
export function orgRules(config: GitHubConfig): OrgRule[] | undefined {
  if (config.orgs !== undefined) return config.orgs;
  if (config.org !== undefined) return [{ name: config.org }];
  return undefined;
}

/**
 * Dex's rules: with org rules, the user must be a member of one organisation without a team filter
 * or of one listed team; claims are `org:team`. Without rules, `loadAllGroups` (and the `groups`
 * scope) lists every organisation and team. Throws `not_in_required_groups` when no rule admits.
 */
export async function resolveGroups(
  api: GitHubApi,
  login: string,
  config: GitHubConfig,
  wantGroups: boolean,
): Promise<string[] | undefined> {
  const rules = orgRules(config);
  if (rules !== undefined) return groupsForOrgs(api, login, rules, config.teamNameField, wantGroups);
  if (config.loadAllGroups && wantGroups) return allGroups(api, config.teamNameField);
  return undefined;
}

async function groupsForOrgs(
  api: GitHubApi,
  login: string,
  rules: OrgRule[],
  field: TeamNameField,
  wantGroups: boolean,
): Promise<string[]> {
  let teams: GitHubTeam[] | undefined;
  const groups: string[] = [];
  let admitted = false;
  for (const rule of rules) {
    if (!(await api.isOrgMember(rule.name, login))) continue;
    const filter = rule.teams ?? [];
    // Teams are needed to check a team filter, or to emit claims.
    if (filter.length === 0 && !wantGroups) {
      admitted = true;
      continue;
    }
    teams ??= await api.teams();
    const org = rule.name.toLowerCase();
    const names = teams.filter((t) => t.organization.login.toLowerCase() === org).flatMap((t) => teamNames(t, field));
    const kept = filter.length === 0 ? names : names.filter((n) => filter.includes(n));
    if (filter.length === 0 || kept.length > 0) admitted = true;
    for (const n of kept) groups.push(`${rule.name}:${n}`);
  }
  if (!admitted) {
    throw new ConnectorError(
      'not_in_required_groups',
      `GitHub user ${login} is not in any allowed organisation or team`,
      {
        userMessage: 'Your GitHub account is not a member of an organisation or team that may sign in here.',
      },
    );
  }
  return [...new Set(groups)];
}

async function allGroups(api: GitHubApi, field: TeamNameField): Promise<string[]> {
  const [orgs, teams] = await Promise.all([api.orgs(), api.teams()]);
  const groups = orgs.map((o) => o.login);
  for (const t of teams) for (const n of teamNames(t, field)) groups.push(`${t.organization.login}:${n}`);
  return [...new Set(groups)];
}
