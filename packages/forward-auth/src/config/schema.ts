import { parseCIDR } from '@gatehouse/common';
import { z } from 'zod';
import { cookieSecretBytes } from './secret.ts';

const HOUR = 3_600_000;

const httpURL = (what: string) =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hash === '' && u.username === '';
    } catch {
      return false;
    }
  }, `must be an absolute http(s) URL (${what})`);

const regexList = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((entry, i) => {
    const pattern = entry.replace(/^[A-Z]+!?=|^!=/, '');
    try {
      new RegExp(pattern);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [i], message: `invalid regular expression: ${(err as Error).message}` });
    }
  });
});

const listenAddress = z
  .string()
  .regex(/^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'must be "host:port"');

const secret = z.string().refine((s) => cookieSecretBytes(s) !== undefined, {
  message: 'must be 16, 24 or 32 bytes, raw or base64/base64url-encoded (e.g. `openssl rand -base64 32`)',
});

const cidr = z.string().refine((v) => parseCIDR(v) !== undefined, 'must be an IP address or CIDR range');

// `host`, `.host`, `*.host`, each optionally with `:port` or `:*`.
const whitelistEntry = z
  .string()
  .regex(
    /^(\*\.|\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?(:(\d{1,5}|\*))?$|^\[[0-9a-fA-F:.]+\](:(\d{1,5}|\*))?$/,
    'must be a host name, optionally with a leading "." or "*." and ":port" or ":*"',
  );

const cookieDomain = z.string().regex(/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'must be a domain name');

const extraIssuer = z.string().refine((v) => {
  const eq = v.lastIndexOf('=');
  if (eq <= 0 || eq === v.length - 1) return false;
  return httpURL('issuer').safeParse(v.slice(0, eq)).success;
}, 'must be "issuer-url=audience"');

export const forwardAuthSchema = z
  .object({
    provider: z.literal('oidc', { message: 'only "oidc" is supported' }).default('oidc'),
    oidc_issuer_url: httpURL('the issuer'),
    client_id: z.string().min(1),
    client_secret: z.string().min(1).optional(),
    redirect_url: httpURL('the /oauth2/callback URL registered at the issuer'),
    proxy_prefix: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*[^/]$/, 'must start with "/" and not end with "/"')
      .default('/oauth2'),
    http_address: listenAddress.default('127.0.0.1:4180'),
    /** A separate listener for /metrics (oauth2-proxy's option); when set, the main listener no longer serves it. */
    metrics_address: listenAddress.optional(),
    scope: z.string().min(1).default('openid email profile'),
    code_challenge_method: z
      .literal('S256', { message: 'only "S256" is supported (PKCE is always on)' })
      .default('S256'),
    cookie_name: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$/, 'must be a cookie name token of at most 200 characters')
      .default('_oauth2_proxy'),
    cookie_secret: secret,
    cookie_secrets: z.array(secret).default([]),
    cookie_domains: z.array(cookieDomain).default([]),
    cookie_path: z
      .string()
      .regex(/^\/[^;\s]*$/, 'must start with "/"')
      .default('/'),
    cookie_secure: z.boolean().default(true),
    cookie_httponly: z.boolean().default(true),
    cookie_samesite: z.enum(['lax', 'strict', 'none']).default('lax'),
    cookie_expire: z
      .number()
      .int()
      .min(1000, 'must be at least 1s')
      .default(168 * HOUR),
    cookie_refresh: z.number().int().min(0).default(0),
    cookie_csrf_expire: z
      .number()
      .int()
      .min(1000, 'must be at least 1s')
      .default(15 * 60_000),
    cookie_csrf_per_request: z.boolean().default(true),
    cookie_csrf_per_request_limit: z.number().int().min(1).max(50).default(5),
    set_xauthrequest: z.boolean().default(false),
    pass_access_token: z.boolean().default(false),
    email_domains: z.array(z.string().min(1)).min(1, 'is required; use "*" to allow any email domain'),
    allowed_groups: z.array(z.string().min(1)).default([]),
    user_id_claim: z.string().min(1).default('sub'),
    oidc_email_claim: z.string().min(1).default('email'),
    oidc_groups_claim: z.string().min(1).default('groups'),
    oidc_extra_audiences: z.array(z.string().min(1)).default([]),
    insecure_oidc_allow_unverified_email: z.boolean().default(false),
    whitelist_domains: z.array(whitelistEntry).default([]),
    skip_auth_routes: regexList.default([]),
    skip_auth_preflight: z.boolean().default(false),
    api_routes: regexList.default([]),
    force_json_errors: z.boolean().default(false),
    skip_jwt_bearer_tokens: z.boolean().default(false),
    extra_jwt_issuers: z.array(extraIssuer).default([]),
    reverse_proxy: z.boolean().default(false),
    trusted_proxy_ips: z.array(cidr).default(['127.0.0.1', '::1']),
    skip_provider_button: z.boolean().default(false),
    post_logout_redirect_url: httpURL('where the issuer returns after logout').optional(),
    ping_path: z.string().startsWith('/').default('/ping'),
    ready_path: z.string().startsWith('/').default('/ready'),
    session_cache_size: z.number().int().min(0).max(1_000_000).default(10_000),
    /** Live sign-outs a replica remembers before it folds them into "everything before now is revoked". */
    revocation_max_entries: z.number().int().min(1_000).max(10_000_000).default(250_000),
    /** "cookie": revocations per replica, in memory; "redis": shared by every replica and kept across restarts. */
    session_store_type: z.enum(['cookie', 'redis'], { message: 'must be "cookie" or "redis"' }).default('cookie'),
    redis_connection_url: z
      .string()
      .refine((v) => {
        try {
          const u = new URL(v);
          return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
        } catch {
          return false;
        }
      }, 'must be a redis:// or rediss:// URL, e.g. "redis://redis:6379"')
      .optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.cookie_refresh > 0 && c.cookie_refresh >= c.cookie_expire) {
      ctx.addIssue({ code: 'custom', path: ['cookie_refresh'], message: 'must be less than cookie_expire' });
    }
    if (
      c.metrics_address !== undefined &&
      !/:0$/.test(c.metrics_address) &&
      c.metrics_address.replace(/^https?:\/\//, '') === c.http_address.replace(/^https?:\/\//, '')
    ) {
      ctx.addIssue({ code: 'custom', path: ['metrics_address'], message: 'must differ from http_address' });
    }
    if (c.session_store_type === 'redis' && c.redis_connection_url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['redis_connection_url'],
        message: 'is required with session_store_type = "redis"',
      });
    }
    if (c.cookie_samesite === 'none' && !c.cookie_secure) {
      ctx.addIssue({ code: 'custom', path: ['cookie_samesite'], message: '"none" requires cookie_secure = true' });
    }
  });

/** The validated forward-auth configuration: oauth2-proxy's option names, durations in milliseconds. */
export type ForwardAuthConfig = z.output<typeof forwardAuthSchema>;
/** What a caller may pass before validation (durations as Go strings such as "168h" are converted by the loader). */
export type ForwardAuthConfigInput = z.input<typeof forwardAuthSchema>;
