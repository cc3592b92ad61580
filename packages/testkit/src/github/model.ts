import { randomBytes } from 'node:crypto';

/** A GitHub account as the fake knows it. */
export interface FakeGitHubUser {
  id: number;
  login: string;
  name?: string | null;
  /** Public profile email (`/user` `email`); null when private. */
  email?: string | null;
  /** What `/user/emails` lists. */
  emails?: FakeGitHubEmail[];
}

export interface FakeGitHubEmail {
  email: string;
  /** Omit to model a GitHub Enterprise Server that sends no `verified` field. */
  verified?: boolean;
  primary?: boolean;
  visibility?: 'public' | 'private' | null;
}

export interface FakeGitHubOrg {
  login: string;
  id?: number;
  /** Logins of members (public or concealed). */
  members: string[];
  /** Members whose membership is public (visible without `read:org`). Default: none. */
  publicMembers?: string[];
}

export interface FakeGitHubTeam {
  /** Organisation login. */
  org: string;
  name: string;
  /** Default: the name lower-cased with runs of other characters as `-`. */
  slug?: string;
  id?: number;
  members: string[];
}

/** A registered OAuth app. */
export interface FakeGitHubClient {
  clientId: string;
  clientSecret: string;
  /** The app's "Authorization callback URL"; `redirect_uri` must be it or a subdirectory of it. */
  callbackURL: string;
}

export function slugify(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export interface AuthCode {
  clientId: string;
  login: string;
  redirectURI: string | undefined;
  scopes: string[];
  codeChallenge: string | undefined;
  expiresAt: number;
}

export interface TokenRecord {
  login: string;
  clientId: string;
  scopes: string[];
  /** Epoch ms; undefined for OAuth-app tokens (they do not expire). */
  expiresAt: number | undefined;
}

export interface RefreshRecord {
  login: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
}

export interface RateWindow {
  remaining: number;
  /** Epoch seconds. */
  reset: number;
}

/** Mutable world of the fake: accounts, organisations, teams, issued codes and tokens. */
export class FakeGitHubState {
  readonly users = new Map<string, FakeGitHubUser>();
  readonly orgs = new Map<string, FakeGitHubOrg & { id: number; publicMembers: string[] }>();
  readonly teams: Array<FakeGitHubTeam & { slug: string; id: number }> = [];
  readonly clients = new Map<string, FakeGitHubClient>();
  readonly codes = new Map<string, AuthCode>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly refreshTokens = new Map<string, RefreshRecord>();
  readonly rate = new Map<string, RateWindow>();

  constructor(users: FakeGitHubUser[], orgs: FakeGitHubOrg[], teams: FakeGitHubTeam[], clients: FakeGitHubClient[]) {
    for (const u of users) this.users.set(u.login.toLowerCase(), structuredClone(u));
    orgs.forEach((o, i) => {
      this.orgs.set(o.login.toLowerCase(), {
        ...structuredClone(o),
        id: o.id ?? 1000 + i,
        publicMembers: [...(o.publicMembers ?? [])],
      });
    });
    teams.forEach((t, i) => {
      this.teams.push({ ...structuredClone(t), slug: t.slug ?? slugify(t.name), id: t.id ?? 5000 + i });
    });
    for (const c of clients) this.clients.set(c.clientId, { ...c });
  }

  user(login: string): FakeGitHubUser | undefined {
    return this.users.get(login.toLowerCase());
  }

  org(login: string): (FakeGitHubOrg & { id: number; publicMembers: string[] }) | undefined {
    return this.orgs.get(login.toLowerCase());
  }

  isMember(org: string, login: string): boolean {
    return this.org(org)?.members.some((m) => m.toLowerCase() === login.toLowerCase()) ?? false;
  }

  isPublicMember(org: string, login: string): boolean {
    return (
      this.isMember(org, login) &&
      (this.org(org)?.publicMembers.some((m) => m.toLowerCase() === login.toLowerCase()) ?? false)
    );
  }

  teamsOf(login: string): Array<FakeGitHubTeam & { slug: string; id: number }> {
    const l = login.toLowerCase();
    return this.teams.filter((t) => t.members.some((m) => m.toLowerCase() === l) && this.isMember(t.org, login));
  }

  orgsOf(login: string): Array<FakeGitHubOrg & { id: number; publicMembers: string[] }> {
    return [...this.orgs.values()].filter((o) => this.isMember(o.login, login));
  }

  removeFromOrg(org: string, login: string): void {
    const o = this.org(org);
    if (!o) throw new Error(`fake GitHub: no organisation ${org}`);
    const l = login.toLowerCase();
    o.members = o.members.filter((m) => m.toLowerCase() !== l);
    o.publicMembers = o.publicMembers.filter((m) => m.toLowerCase() !== l);
    for (const t of this.teams)
      if (t.org.toLowerCase() === org.toLowerCase()) t.members = t.members.filter((m) => m.toLowerCase() !== l);
  }

  addToOrg(org: string, login: string, teams: string[] = []): void {
    const o = this.org(org);
    if (!o) throw new Error(`fake GitHub: no organisation ${org}`);
    if (!this.isMember(org, login)) o.members.push(login);
    for (const name of teams) {
      const t = this.teams.find(
        (x) => x.org.toLowerCase() === org.toLowerCase() && (x.name === name || x.slug === name),
      );
      if (!t) throw new Error(`fake GitHub: no team ${org}/${name}`);
      if (!t.members.some((m) => m.toLowerCase() === login.toLowerCase())) t.members.push(login);
    }
  }

  issueToken(
    login: string,
    clientId: string,
    scopes: string[],
    lifetimeSeconds: number | undefined,
  ): { token: string; refreshToken?: string } {
    const expiring = lifetimeSeconds !== undefined;
    const token = `${expiring ? 'ghu' : 'gho'}_${randomBytes(27).toString('base64url').slice(0, 36)}`;
    this.tokens.set(token, {
      login,
      clientId,
      scopes,
      expiresAt: expiring ? Date.now() + lifetimeSeconds * 1000 : undefined,
    });
    if (!expiring) return { token };
    const refreshToken = `ghr_${randomBytes(56).toString('base64url').slice(0, 76)}`;
    this.refreshTokens.set(refreshToken, { login, clientId, scopes, expiresAt: Date.now() + 180 * 24 * 3600 * 1000 });
    return { token, refreshToken };
  }

  revokeToken(token?: string): void {
    if (token === undefined) this.tokens.clear();
    else this.tokens.delete(token);
  }

  revokeTokensOf(login: string): void {
    const l = login.toLowerCase();
    for (const [t, r] of this.tokens) if (r.login.toLowerCase() === l) this.tokens.delete(t);
    for (const [t, r] of this.refreshTokens) if (r.login.toLowerCase() === l) this.refreshTokens.delete(t);
  }
}
