import { httpsURL, parseDurationMs, redirectURI, requiredString, stringList } from '@gatehouse/connector-kit';
import { z } from '@gatehouse/connector-kit';

/** One organisation whose members may sign in, optionally only members of some of its teams. */
const orgSchema = z.strictObject({
  name: requiredString('organisation name'),
  /** Team names (or slugs, per `teamNameField`); empty means any member of the organisation. */
  teams: stringList().optional(),
});

/** `host` or `host:port`; no scheme, no path (Dex rejects a `/`). */
const HOST_NAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * `preferredEmailDomain` as Dex accepts it: a domain whose labels may each be `*` (one label),
 * but not a trailing `*` (that would match any top-level domain).
 */
const preferredEmailDomain = z.string().superRefine((value, ctx) => {
  const labels = value.split('.');
  if (value.endsWith('*')) ctx.addIssue({ code: 'custom', message: 'must not end with "*"' });
  if (labels.some((l) => l === '' || !/^(\*|[A-Za-z0-9-]+)$/.test(l))) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a domain such as example.com or *.example.com, got ${JSON.stringify(value)}`,
    });
  }
});

/**
 * The `config` block of a `type: github` connector: Dex's keys, plus `apiURL`/`oauthURL`
 * (github.com reached through a proxy, or a local test server) and `requestTimeout`.
 */
export const githubConfigSchema = z
  .strictObject({
    clientID: requiredString('OAuth app client ID'),
    clientSecret: requiredString('OAuth app client secret'),
    /** Must equal the issuer's `{issuer}/callback` when set (as in Dex). */
    redirectURI: redirectURI().optional(),
    /** Legacy single organisation. Unlike Dex, Gatehouse restricts login to its members. */
    org: requiredString('organisation name').optional(),
    orgs: z.array(orgSchema).min(1, { error: 'must list at least one organisation when set' }).optional(),
    /** GitHub Enterprise Server host (`ghe.example.com` or `host:port`): API at `https://{hostName}/api/v3`. */
    hostName: z
      .string()
      .refine((v) => HOST_NAME.test(v), { error: 'must be a host name or host:port, without a scheme or "/"' })
      .optional(),
    /** Path to a PEM file with the CA(s) that sign the GitHub Enterprise host's certificate. */
    rootCA: requiredString('path to a PEM file').optional(),
    teamNameField: z.enum(['name', 'slug', 'both']).default('name'),
    loadAllGroups: z.boolean().default(false),
    useLoginAsID: z.boolean().default(false),
    preferredEmailDomain: preferredEmailDomain.optional(),
    /** Gatehouse extension: REST API base for github.com mode (default `https://api.github.com`). For proxies and tests. */
    apiURL: httpsURL().optional(),
    /** Gatehouse extension: OAuth base for github.com mode (default `https://github.com`). For proxies and tests. */
    oauthURL: httpsURL().optional(),
    /** Gatehouse extension: bound on each call to GitHub, e.g. `10s` (default), `500ms`. */
    requestTimeout: z
      .string()
      .refine(
        (v) => {
          const ms = parseDurationMs(v);
          return ms !== undefined && ms >= 100 && ms <= 300_000;
        },
        { error: 'must be a duration between 100ms and 5m, e.g. "10s"' },
      )
      .default('10s'),
  })
  .superRefine((c, ctx) => {
    if (c.org !== undefined && c.orgs !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['org'], message: 'use either "org" (legacy) or "orgs", not both' });
    }
    if (c.rootCA !== undefined && c.hostName === undefined && c.apiURL === undefined && c.oauthURL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rootCA'], message: 'is only used with "hostName" (GitHub Enterprise)' });
    }
    if (c.hostName !== undefined) {
      for (const key of ['apiURL', 'oauthURL'] as const) {
        if (c[key] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'cannot be combined with "hostName" (which sets both URLs)',
          });
        }
      }
    }
  });

/** Settings that parse but do not do what a Dex user may expect. */
export function configWarnings(c: GitHubConfig): string[] {
  const warnings: string[] = [];
  if (c.org !== undefined) {
    warnings.push(
      '"org" is deprecated: use "orgs". Unlike Dex, Gatehouse refuses users who are not members of this organisation.',
    );
  }
  if (c.loadAllGroups && (c.org !== undefined || c.orgs !== undefined)) {
    warnings.push('"loadAllGroups" is ignored when "org"/"orgs" is set: groups come from those organisations only.');
  }
  return warnings;
}

export type GitHubConfig = z.output<typeof githubConfigSchema>;
export type GitHubConfigInput = z.input<typeof githubConfigSchema>;

/** Where the connector talks to GitHub. */
export interface GitHubEndpoints {
  /** REST API base without a trailing slash (`https://api.github.com`, `https://ghe/api/v3`). */
  api: string;
  /** OAuth base: `/login/oauth/authorize` and `/login/oauth/access_token` are under it. */
  oauth: string;
  /** GitHub Enterprise Server: emails are treated as verified unless GitHub says otherwise. */
  enterprise: boolean;
}

export function endpointsFor(config: GitHubConfig): GitHubEndpoints {
  if (config.hostName !== undefined) {
    return { api: `https://${config.hostName}/api/v3`, oauth: `https://${config.hostName}`, enterprise: true };
  }
  return {
    api: config.apiURL ?? 'https://api.github.com',
    oauth: config.oauthURL ?? 'https://github.com',
    enterprise: false,
  };
}
