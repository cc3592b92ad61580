import type { ZodType } from 'zod';

/** Version of the connector contract. A connector records the kit version it was built against
 * (`ConnectorFactory.kitVersion`); the issuer refuses one whose major version differs. */
export const CONNECTOR_KIT_VERSION = '1.0.0';

/** What the client asked for that a connector must honour. */
export interface Scopes {
  /** `offline_access` was requested: the connector should obtain upstream refresh state. */
  offlineAccess: boolean;
  /** `groups` was requested: the connector should resolve group membership. */
  groups: boolean;
}

/** A user as an upstream identity provider vouches for them. */
export interface Identity {
  /** Stable upstream id (object id, numeric id, DN...). Never an email address. */
  userId: string;
  username: string;
  preferredUsername?: string;
  email?: string;
  emailVerified?: boolean;
  groups?: string[];
  /** Opaque upstream state (refresh tokens, DNs). JSON-serialisable; never shown to clients. */
  connectorData?: unknown;
}

/** The upstream's answer arriving at `{issuer}/callback`, as the browser sent it. */
export interface CallbackRequest {
  /** Full callback URL including the query string. */
  url: URL;
  method: 'GET' | 'POST';
  /** Form fields of a `form_post` response, already parsed. */
  form?: Record<string, string>;
}

export interface LoginRedirect {
  /** Where to send the browser. */
  url: string;
  /** Per-login state (PKCE verifier, nonce...) the issuer keeps with this login and hands back
   * to `handleCallback`. JSON-serialisable. */
  keep?: unknown;
}

/** A connector that sends the browser to an upstream and receives it back (OAuth2/OIDC). */
export interface CallbackConnector {
  readonly kind: 'callback';
  /** `state` is the issuer's opaque login handle: the connector must round-trip it upstream. */
  loginURL(scopes: Scopes, callbackURL: string, state: string): Promise<LoginRedirect>;
  handleCallback(scopes: Scopes, kept: unknown, request: CallbackRequest): Promise<Identity>;
}

export type PasswordLoginResult = { ok: true; identity: Identity } | { ok: false };

/** A connector that checks a username and password itself (LDAP, the local password DB). */
export interface PasswordConnector {
  readonly kind: 'password';
  /** Label of the username field ("Email Address", "Username"). */
  readonly prompt: string;
  /** `{ok: false}` for wrong credentials; throw `ConnectorError` for anything else. */
  login(scopes: Scopes, username: string, password: string): Promise<PasswordLoginResult>;
}

/** Re-checks a user upstream when a client redeems a refresh token. */
export interface RefreshConnector {
  refresh(scopes: Scopes, identity: Identity): Promise<Identity>;
}

export type Connector = (CallbackConnector | PasswordConnector) &
  Partial<RefreshConnector> & {
    /** Releases sockets, timers and pools. */
    close?(): Promise<void>;
  };

/** Minimal structured logger (a pino logger satisfies it). Never pass secrets or tokens. */
export interface ConnectorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): ConnectorLogger;
}

export interface ConnectorContext {
  logger: ConnectorLogger;
  /** The issuer URL, e.g. `https://auth.example.com/dex`. */
  issuerURL: string;
  /** Where upstreams return the browser: `{issuer}/callback`. */
  callbackURL: string;
}

/** What a connector package exports (as its default export and/or named `factory`). */
export interface ConnectorFactory<Config = unknown> {
  /** Dex's type name: `microsoft`, `github`, `ldap`, `mockCallback`... */
  readonly type: string;
  /** `CONNECTOR_KIT_VERSION` the connector was built against. */
  readonly kitVersion: string;
  /** Validates the connector's `config` block. Issues are reported with their key paths. */
  readonly configSchema: ZodType<Config>;
  /** Start-up problems that are not schema errors but must be told (e.g. unenforceable settings). */
  warnings?(config: Config): string[];
  open(id: string, config: Config, context: ConnectorContext): Promise<Connector> | Connector;
}

export function isCallbackConnector(c: Connector): c is CallbackConnector & Connector {
  return c.kind === 'callback';
}
export function isPasswordConnector(c: Connector): c is PasswordConnector & Connector {
  return c.kind === 'password';
}
export function canRefresh(c: Connector): c is Connector & RefreshConnector {
  return typeof c.refresh === 'function';
}
