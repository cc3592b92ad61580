/**
 * The issuer's configuration after loading and validation (`loadConfig`). Key names and structure
 * follow Dex's YAML so a Dex user can bring their file; values are normalised: durations are
 * seconds, `idEnv`/`secretEnv`/`hashFromEnv` are resolved, `$VAR` expanded where Dex does it,
 * defaults applied.
 */

import type { StorageConfig } from '@gatehouse/storage';

export type { StorageConfig };

export interface WebConfig {
  /** `host:port` for plain HTTP, e.g. `127.0.0.1:5556` or `0.0.0.0:5556`. */
  http?: string;
  https?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Extra response headers (Dex: Content-Security-Policy, X-Frame-Options, ...). */
  headers: Record<string, string>;
  /** CORS origins allowed on discovery, keys, token, userinfo ("*" allowed). */
  allowedOrigins: string[];
  /** Proxies whose X-Forwarded-* headers are trusted (CIDRs or IPs). Default: none. */
  trustedProxies: string[];
}

export interface FrontendConfig {
  /** Product name shown on pages (Dex's `issuer` key under `frontend`). */
  issuer: string;
  logoURL?: string;
  theme: 'light' | 'dark';
  /** Colours for theming: CSS colour strings. */
  colors?: { primary?: string; background?: string; text?: string };
  extra: Record<string, string>;
}

export interface ExpiryConfig {
  /** Signing-key rotation period, seconds. Default 6h. */
  signingKeys: number;
  /** ID and access token lifetime, seconds. Default 24h. */
  idTokens: number;
  /** Login (interaction) lifetime, seconds. Default 1h (Dex: 24h). */
  authRequests: number;
  /** Device-flow request lifetime, seconds. Default 5m. */
  deviceRequests: number;
  /** Authorization-code lifetime, seconds. Default 10m (Dex: fixed 30m). */
  authCodes: number;
  refreshTokens: {
    disableRotation: boolean;
    /** Seconds a rotated-out refresh token is still accepted. Default 3s. */
    reuseInterval: number;
    /** Seconds from first issue. Default 90 days (Dex: never). */
    absoluteLifetime: number;
    /** Idle seconds. Default 30 days (Dex: never). */
    validIfNotUsedFor: number;
  };
}

export interface OAuth2Config {
  grantTypes: string[];
  responseTypes: string[];
  skipApprovalScreen: boolean;
  alwaysShowLoginScreen: boolean;
  /** Connector id used for the `password` grant; unset = password grant off. */
  passwordConnector?: string;
  pkce: { enforce: boolean; codeChallengeMethodsSupported: Array<'S256' | 'plain'> };
}

export interface StaticClient {
  id: string;
  secret?: string;
  redirectURIs: string[];
  postLogoutRedirectURIs: string[];
  trustedPeers: string[];
  public: boolean;
  name: string;
  logoURL?: string;
  /** The connectors this client may use, on every grant (Dex's `allowedConnectors`); absent = any. */
  allowedConnectors?: string[];
}

export interface ConnectorConfig {
  type: string;
  id: string;
  name: string;
  /** Validated by the connector factory's `configSchema` at start-up. */
  config: unknown;
}

export interface StaticPassword {
  email: string;
  /** bcrypt hash (cost 10..16). */
  hash: string;
  username: string;
  userID: string;
  name?: string;
  preferredUsername?: string;
  emailVerified: boolean;
  groups: string[];
}

export interface SignerConfig {
  /** Algorithms to publish and sign with; the first is the default for ID tokens. Default RS256. */
  algorithms: Array<'RS256' | 'ES256' | 'EdDSA'>;
}

export interface LoggerConfig {
  level: 'debug' | 'info' | 'warn' | 'error';
  format: 'json' | 'text';
}

export interface IssuerConfig {
  issuer: string;
  storage: StorageConfig;
  web: WebConfig;
  telemetry: { http?: string };
  frontend: FrontendConfig;
  expiry: ExpiryConfig;
  oauth2: OAuth2Config;
  signer: SignerConfig;
  staticClients: StaticClient[];
  connectors: ConnectorConfig[];
  enablePasswordDB: boolean;
  staticPasswords: StaticPassword[];
  logger: LoggerConfig;
}

/** One problem found in a config file, with the key path it concerns (`staticClients[0].secret`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

export type ConfigResult =
  | { ok: true; config: IssuerConfig; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };
