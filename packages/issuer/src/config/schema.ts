/**
 * zod schemas for the raw (parsed YAML) issuer config. They check the type and format of each
 * value; rules that span several keys (id/idEnv exclusivity, password DB, connector references)
 * live in `rules.ts` so they run even when an unrelated value is malformed. Key names follow Dex.
 *
 * Gatehouse additions to Dex's format are marked "Gatehouse:" below.
 */
import { z } from 'zod';
import { parseDuration } from '@gatehouse/common';

/** `host:port` (`127.0.0.1:5556`, `[::1]:5556`, `:5556`, `0.0.0.0:5556`). */
export const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]/]*):([0-9]{1,5})$/;

export const address = z.string().refine(
  (s) => {
    const m = ADDRESS.exec(s);
    return m !== null && Number(m[2]) <= 65535;
  },
  { message: 'expected an address like "127.0.0.1:5556"' },
);

export const duration = z.string({ error: 'expected a duration like "24h", "30m" or "3s"' }).transform((s, ctx) => {
  const seconds = parseDuration(s);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration; use a value like "24h", "30m" or "3s"` });
    return z.NEVER;
  }
  return seconds;
});

/** A positive duration (a lifetime). */
export const lifetime = duration.refine((n) => n > 0, { message: 'must be longer than 0s' });

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z.string().regex(ENV_NAME, { message: 'expected an environment variable name' });

function absoluteURL(protocols: string[]): z.ZodType<string> {
  return z.string().refine(
    (s) => {
      const u = URL.parse(s);
      return u !== null && protocols.includes(u.protocol) && u.hash === '';
    },
    { message: `expected an absolute ${protocols.map((p) => p.slice(0, -1)).join('/')} URL without a fragment` },
  );
}

const httpURL = absoluteURL(['http:', 'https:']);

/** Redirect URIs may use private-use schemes (native apps, RFC 8252); never a fragment. */
const redirectURI = z.string().refine(
  (s) => {
    const u = URL.parse(s);
    return u !== null && u.hash === '' && !s.includes('#') && /^[a-z][a-z0-9+.-]*:/i.test(s);
  },
  { message: 'expected an absolute URI without a fragment' },
);

/** DNS-1123 subdomain: usable verbatim as a Kubernetes object name and in URL paths. */
export const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const connectorId = z
  .string()
  .max(253, { message: 'must be at most 253 characters' })
  .regex(DNS1123, {
    message: 'must be lower-case letters, digits, "-" and "." (a DNS-1123 name, as Kubernetes requires)',
  });

/** Printable ASCII without spaces (RFC 6749 client_id characters, minus the space). */
const clientId = z.string().regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' });

export const sqliteConfig = z.strictObject({ file: z.string().min(1).default('gatehouse.db') });
export const kubernetesConfig = z.strictObject({
  inCluster: z.boolean().default(false),
  kubeConfigFile: z.string().min(1).optional(),
  namespace: z.string().regex(DNS1123, { message: 'expected a Kubernetes namespace name' }).optional(),
});
export const memoryConfig = z.strictObject({});

/** A whole number, also as digits in a string (what a `$VAR` in the YAML expands to). */
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: 'expected a whole number (durations in seconds, as in Dex)' })
    .pipe(z.number().int({ message: 'expected a whole number' }).min(min).max(max));

/** Dex's `postgres` keys (storage/sql/config.go); the durations are whole seconds, as in Dex. */
export const postgresConfig = z.strictObject({
  host: z.string().min(1).optional(),
  port: wholeNumber(1, 65535).optional(),
  database: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  ssl: z
    .strictObject({
      mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .optional(),
  connectionTimeout: wholeNumber(0).optional(),
  maxOpenConns: wholeNumber(0).optional(),
  maxIdleConns: wholeNumber(0).optional(),
  connMaxLifetime: wholeNumber(0).optional(),
});

/** Dex storage types Gatehouse does not implement. */
export const DEX_ONLY_STORAGE_TYPES = ['etcd', 'mysql'] as const;

export const storageSchema = z.object(
  {
  type: z.string({ error: 'required: one of memory, sqlite3, kubernetes, postgres' }),
  /** Checked per type in rules.ts, after `$VAR` expansion. */
  config: z.record(z.string(), z.unknown()).optional(),
  },
  { error: 'required: a storage section with a type (memory, sqlite3, kubernetes or postgres)' },
);

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const webSchema = z.object({
  http: address.optional(),
  https: address.optional(),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  headers: z
    .record(
      z.string().regex(headerName, { message: 'not a valid HTTP header name' }),
      z.string().regex(/^[^\r\n]*$/, { message: 'header values cannot contain line breaks' }),
    )
    .default({}),
  allowedOrigins: z.array(z.string().min(1)).default([]),
  /** Gatehouse: proxies whose X-Forwarded-* headers are trusted (IPs or CIDRs). Default none. */
  trustedProxies: z.array(z.string().min(1)).default([]),
});

const cssColor = z
  .string()
  .regex(/^[#(),.%\sa-zA-Z0-9-]+$/, { message: 'expected a CSS colour (e.g. "#0b5fff" or "rgb(11, 95, 255)")' });

export const frontendSchema = z.object({
  issuer: z.string().min(1).default('Gatehouse'),
  logoURL: httpURL.optional(),
  /** Dex themes are folders; Gatehouse ships `light` and `dark`. */
  theme: z.string().default('light'),
  /** Gatehouse: theme colours. */
  colors: z
    .object({ primary: cssColor.optional(), background: cssColor.optional(), text: cssColor.optional() })
    .optional(),
  extra: z.record(z.string(), z.string()).default({}),
});

export const expirySchema = z.object({
  signingKeys: lifetime.default(6 * 3600),
  idTokens: lifetime.default(24 * 3600),
  /** Dex default 24h; Gatehouse 1h (a login that takes longer starts over). */
  authRequests: lifetime.default(3600),
  deviceRequests: lifetime.default(5 * 60),
  /** Gatehouse: authorization-code lifetime (Dex: fixed 30m). Default 10m. */
  authCodes: lifetime.default(10 * 60),
  refreshTokens: z
    .object({
      disableRotation: z.boolean().default(false),
      reuseInterval: duration.default(3),
      /** Gatehouse: finite by default (90 days); Dex never expires refresh tokens by default. */
      absoluteLifetime: lifetime.default(90 * 24 * 3600),
      /** Gatehouse: finite by default (30 days idle). */
      validIfNotUsedFor: lifetime.default(30 * 24 * 3600),
    })
    .prefault({}),
});

export const GRANT_TYPES = {
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  password: 'password',
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  tokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
  clientCredentials: 'client_credentials',
  implicit: 'implicit',
} as const;

export const RESPONSE_TYPES = [
  'code',
  'id_token',
  'code id_token',
  'code token',
  'id_token token',
  'code id_token token',
] as const;

export const oauth2Schema = z.object({
  grantTypes: z.array(z.string()).optional(),
  responseTypes: z.array(z.string()).optional(),
  skipApprovalScreen: z.boolean().default(false),
  alwaysShowLoginScreen: z.boolean().default(false),
  passwordConnector: z.string().min(1).optional(),
  pkce: z
    .object({
      enforce: z.boolean().default(false),
      codeChallengeMethodsSupported: z.array(z.string()).optional(),
    })
    .prefault({}),
});

export const signerSchema = z.object({
  /** Dex: `local` (default) or `vault`. Gatehouse signs locally with keys kept in storage. */
  type: z.string().optional(),
  /** Dex's local signer config: `keysRotationPeriod`, `algorithm` (RS256|ES256). */
  config: z.record(z.string(), z.unknown()).optional(),
  /** Gatehouse: algorithms to publish and sign with; the first is the ID-token default. */
  algorithms: z.array(z.enum(['RS256', 'ES256', 'EdDSA'])).min(1).optional(),
});

/** Dex registers its device-flow callback as a path (`/dex/device/callback`); rules.ts drops it with a warning. */
const clientRedirectURI = z.union([redirectURI, z.string().regex(/^\/[^#]*$/)], {
  error: 'expected an absolute URI without a fragment',
});

export const staticClientSchema = z.object({
  id: clientId.optional(),
  idEnv: envName.optional(),
  secret: z.string().min(1).optional(),
  secretEnv: envName.optional(),
  redirectURIs: z.array(clientRedirectURI).default([]),
  postLogoutRedirectURIs: z.array(redirectURI).default([]),
  trustedPeers: z.array(z.string().min(1)).default([]),
  public: z.boolean().default(false),
  /** Optional in Gatehouse (Dex requires it); defaults to the id. */
  name: z.string().min(1).optional(),
  logoURL: httpURL.optional(),
  /** Dex master: the connectors this client may log in through (absent or empty: any). */
  allowedConnectors: z.array(z.string().min(1)).optional(),
});

export const connectorSchema = z.object({
  type: z.string({ error: 'required' }).min(1, { message: 'required' }),
  id: connectorId,
  name: z.string({ error: 'required' }).min(1, { message: 'required' }),
  /** Validated by the connector factory's `configSchema`. */
  config: z.unknown().optional(),
});

export const staticPasswordSchema = z.object({
  email: z.string().email({ message: 'expected an email address' }),
  hash: z.string().min(1).optional(),
  hashFromEnv: envName.optional(),
  username: z.string().min(1).optional(),
  userID: z.string().min(1, { message: 'required' }),
  name: z.string().min(1).optional(),
  preferredUsername: z.string().min(1).optional(),
  emailVerified: z.boolean().default(true),
  groups: z.array(z.string().min(1)).default([]),
});

export const loggerSchema = z.object({
  level: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['debug', 'info', 'warn', 'warning', 'error']))
    .transform((s) => (s === 'warning' ? 'warn' : s))
    .default('info'),
  format: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['json', 'text']))
    .default('json'),
});

export const configSchema = z.object({
  issuer: z.string({ error: 'required: the issuer URL, e.g. "https://auth.example.com/dex"' }).refine(
    (s) => {
      const u = URL.parse(s);
      return (
        u !== null &&
        (u.protocol === 'http:' || u.protocol === 'https:') &&
        !s.includes('?') &&
        !s.includes('#') &&
        u.username === '' &&
        u.password === ''
      );
    },
    { message: 'must be an absolute http(s) URL without query, fragment or credentials' },
  ),
  storage: storageSchema,
  /** web.http or web.https is required: checked in rules.ts with Dex's wording. */
  web: webSchema.prefault({}),
  telemetry: z.object({ http: address.optional() }).prefault({}),
  frontend: frontendSchema.prefault({}),
  expiry: expirySchema.prefault({}),
  oauth2: oauth2Schema.prefault({}),
  signer: signerSchema.prefault({}),
  staticClients: z.array(staticClientSchema).default([]),
  connectors: z.array(connectorSchema).default([]),
  enablePasswordDB: z.boolean().default(false),
  staticPasswords: z.array(staticPasswordSchema).default([]),
  logger: loggerSchema.prefault({}),
});

export type RawConfig = z.output<typeof configSchema>;
