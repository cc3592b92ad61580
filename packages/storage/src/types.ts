/**
 * The Store contract: everything the issuer persists. Backends: memory, sqlite (default),
 * kubernetes (@gatehouse/storage-kubernetes). Every backend runs the conformance suite in
 * `@gatehouse/storage/conformance`.
 */

/**
 * The oidc-provider models the issuer writes through `Store.model()`: only those its enabled
 * features use. Left out, because the issuer cannot write them: `Client` (clients come from the
 * config and `Store.clients`, never from dynamic registration), `InitialAccessToken` and
 * `RegistrationAccessToken` (registration is off), `BackchannelAuthenticationRequest` (CIBA is
 * off) and `ReplayDetection` (DPoP and attestation are off, and clients authenticate with
 * `client_secret_basic` or `none`, never a JWT assertion). Enabling one of those features means
 * adding its model here, and a kind in storage-kubernetes. Any other name is a StoreError.
 */
export const MODEL_NAMES = [
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  /** features.deviceFlow, when the device-code grant is offered. */
  'DeviceCode',
  /** features.clientCredentials, when the client_credentials grant is offered. */
  'ClientCredentials',
  'Interaction',
  /** features.pushedAuthorizationRequests (on by default in oidc-provider). */
  'PushedAuthorizationRequest',
  'Grant',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** An oidc-provider payload (opaque JSON object; `exp`, `grantId`, `uid`, `userCode`, `consumed` are read). */
export type ModelPayload = Record<string, unknown> & {
  exp?: number;
  grantId?: string;
  uid?: string;
  userCode?: string;
  consumed?: unknown;
};

/**
 * Records of one oidc-provider model. Mirrors oidc-provider's Adapter, with one difference:
 * `consume` reports whether *this* call consumed the record, so the issuer can fail the loser
 * of a race with `invalid_grant` (oidc-provider ignores consume's result).
 */
export interface ModelStore {
  /** Create or replace. `expiresIn` in seconds; undefined = no expiry. */
  upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void>;
  /** The payload, or undefined when absent or expired. Consumed records carry `consumed`. */
  find(id: string): Promise<ModelPayload | undefined>;
  /** Session only: by `payload.uid`. Indexed. */
  findByUid(uid: string): Promise<ModelPayload | undefined>;
  /** DeviceCode only: by `payload.userCode`. Indexed. */
  findByUserCode(userCode: string): Promise<ModelPayload | undefined>;
  /** Conditional write: true for exactly one of any number of concurrent calls, across processes.
   * False when absent, expired, or already consumed. */
  consume(id: string): Promise<boolean>;
  destroy(id: string): Promise<void>;
  /** Deletes every record of this model whose `payload.grantId` matches. Indexed. */
  revokeByGrantId(grantId: string): Promise<void>;
}

/** A private JWK (as exported by jose) with `kid` and `alg`. */
export type PrivateJWK = Record<string, unknown> & { kid: string; alg: string };
export type PublicJWK = Record<string, unknown> & { kid: string; alg: string };

export interface SigningKeySet {
  /** Current signing keys, one per configured algorithm. */
  signing: PrivateJWK[];
  /** Retired keys still published for verification until `expiresAt` (epoch seconds). */
  retired: Array<{ jwk: PublicJWK; expiresAt: number }>;
  /** When the signing keys are due for rotation (epoch seconds). */
  nextRotation: number;
}

export interface VersionedKeys {
  keys: SigningKeySet;
  /** Opaque version for compare-and-swap. */
  version: string;
}

export interface KeyStore {
  get(): Promise<VersionedKeys | undefined>;
  /** Writes `next` only if the stored version is still `expectedVersion` (undefined = none stored).
   * Returns false when another writer won. */
  compareAndSwap(expectedVersion: string | undefined, next: SigningKeySet): Promise<boolean>;
}

/** An OAuth2 client managed at run time (Dex's `staticClients` shape). */
export interface OAuth2Client {
  id: string;
  secret?: string;
  redirectURIs: string[];
  postLogoutRedirectURIs?: string[];
  trustedPeers?: string[];
  public?: boolean;
  name?: string;
  logoURL?: string;
  /** The connectors this client may log in through (Dex's allowedConnectors); absent or empty: any. */
  allowedConnectors?: string[];
}

/** A connector managed at run time (Dex's `connectors[]` shape). */
export interface ConnectorRecord {
  id: string;
  type: string;
  name: string;
  config: unknown;
}

/** Upstream refresh state per user and connector (Dex's OfflineSessions). */
export interface OfflineSession {
  userId: string;
  connectorId: string;
  /** Connector data (upstream refresh token etc.), JSON-serialisable. */
  connectorData?: unknown;
  updatedAt: number;
}

/** A password DB user (Dex's `staticPasswords` / Password). `email` is the key, lower-cased. */
export interface PasswordUser {
  email: string;
  /** bcrypt hash. */
  hash: string;
  username: string;
  userId: string;
}

/** Change notification for records managed at run time (clients, connectors). */
export type ChangeEvent<T> = { type: 'upsert'; record: T } | { type: 'delete'; id: string };

export interface RecordStore<T> {
  get(id: string): Promise<T | undefined>;
  list(): Promise<T[]>;
  upsert(record: T): Promise<void>;
  delete(id: string): Promise<void>;
  /** Optional push notifications (Kubernetes watch). Returns an unsubscribe function. */
  watch?(onChange: (event: ChangeEvent<T>) => void): () => void;
}

export interface OfflineSessionStore {
  get(userId: string, connectorId: string): Promise<OfflineSession | undefined>;
  upsert(session: OfflineSession): Promise<void>;
  delete(userId: string, connectorId: string): Promise<void>;
}

export interface Store {
  /** Backend name: `memory`, `sqlite`, `kubernetes`. */
  readonly type: string;
  model(name: ModelName): ModelStore;
  readonly keys: KeyStore;
  readonly clients: RecordStore<OAuth2Client>;
  readonly connectors: RecordStore<ConnectorRecord>;
  readonly offlineSessions: OfflineSessionStore;
  readonly passwords: RecordStore<PasswordUser>;
  /** Removes expired records, page by page until none is left. Returns how many were removed. */
  gc(now?: Date): Promise<number>;
  /** Resolves when the backend answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Errors at the storage boundary carry a code. */
export type StoreErrorCode = 'unavailable' | 'conflict' | 'invalid' | 'not_found';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
