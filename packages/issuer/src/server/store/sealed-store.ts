/**
 * Encryption at rest for the secrets the issuer keeps in its Store.
 *
 * `SealedStore` wraps any `Store` and seals, with AES-256-GCM, the few values that are secrets
 * rather than pointers: the private members of the signing keys and of the cookie secret
 * (`store.keys`), the upstream refresh state of offline sessions (`connectorData`), and the
 * per-login state an Interaction holds (`result.gatehouse`: the connector's PKCE verifier and
 * nonce, and the Identity with its connectorData while the approval page waits). Everything else
 * (ids, versions, indexed fields, `kid`/`alg` and the public key members) stays readable, so
 * compare-and-swap, consume, watch and the backends' indexes behave exactly as before.
 *
 * Each sealed value is bound to its place by the AES-GCM additional data (signing key `kid`,
 * offline session user and connector, model name + record id + field), so a sealed value copied
 * to another record does not open. Keys come from `GATEHOUSE_STORAGE_KEY` (comma-separated,
 * base64 or base64url, 32 bytes each): the first seals, all open (rotation: put the new key
 * first, keep the old one until every record was rewritten). Values written in clear before a
 * key was set are still read (and sealed on their next write).
 *
 * Envelope: `v1.<key id>.<iv>.<ciphertext+tag>` (base64url). The key id is derived from the key
 * (HKDF), so a value sealed with a key that is no longer configured fails with a StoreError
 * naming neither key.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type {
  KeyStore,
  ModelName,
  ModelPayload,
  ModelStore,
  OfflineSession,
  OfflineSessionStore,
  PrivateJWK,
  SigningKeySet,
  Store,
  VersionedKeys,
} from '@gatehouse/storage';
import { isRecord } from '@gatehouse/common';
import { ForwardingModelStore, ForwardingStore, StoreError } from '@gatehouse/storage';
import { GRANT_EXTENSION } from './adapter.ts';

export const STORAGE_KEY_ENV = 'GATEHOUSE_STORAGE_KEY';

/** The member that replaces a sealed value: `{ "$sealed": "v1...." }`; in a JWK, beside its public members. */
export const SEALED_MEMBER = '$sealed';

/** JWK members that are secret (RSA, EC/OKP, oct). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * Model payload fields that hold secrets, as paths. Interaction: our per-login state (see
 * `login/routes.ts`, `LoginState`). Grant: the identity extension (`grants/accounts.ts`) keeps
 * no connectorData today; if it ever does, it is sealed too.
 */
const SEALED_MODEL_FIELDS: Partial<Record<ModelName, readonly (readonly string[])[]>> = {
  Interaction: [['result', 'gatehouse']],
  Grant: [
    [GRANT_EXTENSION, 'identity', 'connectorData'],
    [GRANT_EXTENSION, 'connectorData'],
  ],
};

const ENVELOPE = /^v1\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

export interface StorageKey {
  /** Derived, public: names the key in envelopes. */
  readonly id: string;
  readonly aes: Buffer;
}

/** Thrown at start-up for a malformed `GATEHOUSE_STORAGE_KEY`; never contains the key. */
export class StorageKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageKeyError';
  }
}

function deriveKey(raw: Buffer): StorageKey {
  const aes = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'gatehouse storage aes-256-gcm', 32));
  const id = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'gatehouse storage key id', 6)).toString('base64url');
  return { id, aes };
}

/**
 * Parses `GATEHOUSE_STORAGE_KEY`: empty or unset → no key (values stay in clear). Each entry is
 * 32 random bytes in base64 or base64url (`head -c32 /dev/urandom | base64`).
 */
export function parseStorageKeys(value: string | undefined, name = STORAGE_KEY_ENV): StorageKey[] {
  if (value === undefined || value.trim() === '') return [];
  const entries = value.split(',').map((e) => e.trim());
  const keys: StorageKey[] = [];
  const bad: number[] = [];
  entries.forEach((entry, i) => {
    const raw = /^[A-Za-z0-9+/_-]+={0,2}$/.test(entry) ? Buffer.from(entry, 'base64') : undefined;
    if (!raw || raw.length !== 32) bad.push(i + 1);
    else keys.push(deriveKey(raw));
  });
  if (bad.length > 0) {
    throw new StorageKeyError(
      `${name}: ${bad.length === 1 ? `entry ${bad[0]} is` : `entries ${bad.join(', ')} are`} not 32 bytes in base64 or base64url (generate one with: head -c32 /dev/urandom | base64)`,
    );
  }
  return keys;
}

/** Seals and opens values; with no key, only opens clear values (and refuses sealed ones clearly). */
export class Sealer {
  readonly #keys: StorageKey[];

  constructor(keys: StorageKey[]) {
    this.#keys = keys;
  }

  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  seal(plain: string, place: readonly string[]): string {
    const key = this.#keys[0];
    if (!key) throw new Error('no storage key to seal with');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.aes, iv);
    cipher.setAAD(Buffer.from(JSON.stringify(place)));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1.${key.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(envelope: unknown, place: readonly string[]): string {
    const where = place[0] ?? 'value';
    const m = typeof envelope === 'string' ? ENVELOPE.exec(envelope) : null;
    if (!m) throw new StoreError('invalid', `sealed ${where} is malformed`);
    const [, id, iv, body] = m as unknown as [string, string, string, string];
    const key = this.#keys.find((k) => k.id === id);
    if (!key) {
      throw new StoreError(
        'invalid',
        this.#keys.length === 0
          ? `a ${where} value is sealed but ${STORAGE_KEY_ENV} is not set`
          : `a ${where} value is sealed with a storage key not in ${STORAGE_KEY_ENV} (key id ${id})`,
      );
    }
    const data = Buffer.from(body, 'base64url');
    if (data.length < 16) throw new StoreError('invalid', `sealed ${where} is malformed`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.aes, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(JSON.stringify(place)));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
    } catch (cause) {
      // Tampered, truncated, or moved from another record (different additional data).
      throw new StoreError('invalid', `sealed ${where} failed authentication (tampered or moved)`, { cause });
    }
  }

  /** A JSON value → `{ $sealed }` (unchanged when there is no key: clear text, as before). */
  sealValue(value: unknown, place: readonly string[]): unknown {
    if (!this.enabled || value === undefined) return value;
    return { [SEALED_MEMBER]: this.seal(JSON.stringify(value), place) };
  }

  /** `{ $sealed }` → the JSON value; anything else is a clear value written before a key was set. */
  openValue(value: unknown, place: readonly string[]): unknown {
    if (!isSealedMarker(value)) return value;
    const text = this.open(value[SEALED_MEMBER], place);
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new StoreError('invalid', `sealed ${place[0] ?? 'value'} is not JSON`, { cause });
    }
  }
}

function isSealedMarker(v: unknown): v is { [SEALED_MEMBER]: unknown } {
  return isRecord(v) && Object.keys(v).length === 1 && SEALED_MEMBER in v;
}

/** A copy of `obj` with the value at `path` replaced by `fn(value)` (copies only along the path). */
function mapPath(
  obj: Record<string, unknown>,
  path: readonly string[],
  fn: (v: unknown) => unknown,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined || !Object.hasOwn(obj, head)) return obj;
  const current = obj[head];
  if (rest.length === 0) {
    if (current === undefined) return obj;
    return { ...obj, [head]: fn(current) };
  }
  if (!isRecord(current)) return obj;
  const next = mapPath(current, rest, fn);
  return next === current ? obj : { ...obj, [head]: next };
}

/** Seals the model's secret fields on upsert and opens them on reads; the other calls pass through. */
class SealedModelStore extends ForwardingModelStore {
  readonly #name: ModelName;
  readonly #sealer: Sealer;
  readonly #fields: readonly (readonly string[])[];

  constructor(inner: ModelStore, name: ModelName, sealer: Sealer, fields: readonly (readonly string[])[]) {
    super(inner);
    this.#name = name;
    this.#sealer = sealer;
    this.#fields = fields;
  }

  #place(id: string, path: readonly string[]): string[] {
    return [`model:${this.#name}`, id, path.join('.')];
  }

  #seal(id: string, payload: ModelPayload): ModelPayload {
    let out: Record<string, unknown> = payload;
    for (const path of this.#fields) out = mapPath(out, path, (v) => this.#sealer.sealValue(v, this.#place(id, path)));
    return out as ModelPayload;
  }

  #open(id: string | undefined, payload: ModelPayload | undefined): ModelPayload | undefined {
    if (!payload) return payload;
    // findByUid/findByUserCode: the record id is the payload's jti (oidc-provider's contract).
    const recordId = id ?? (typeof payload.jti === 'string' ? payload.jti : '');
    let out: Record<string, unknown> = payload;
    for (const path of this.#fields)
      out = mapPath(out, path, (v) => this.#sealer.openValue(v, this.#place(recordId, path)));
    return out as ModelPayload;
  }

  override upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    return this.inner.upsert(id, this.#seal(id, payload), expiresIn);
  }
  override async find(id: string): Promise<ModelPayload | undefined> {
    return this.#open(id, await this.inner.find(id));
  }
  override async findByUid(uid: string): Promise<ModelPayload | undefined> {
    return this.#open(undefined, await this.inner.findByUid(uid));
  }
  override async findByUserCode(userCode: string): Promise<ModelPayload | undefined> {
    return this.#open(undefined, await this.inner.findByUserCode(userCode));
  }
}

class SealedKeyStore implements KeyStore {
  readonly #inner: KeyStore;
  readonly #sealer: Sealer;

  constructor(inner: KeyStore, sealer: Sealer) {
    this.#inner = inner;
    this.#sealer = sealer;
  }

  static #place(jwk: PrivateJWK): string[] {
    return ['keys', 'signing', String(jwk.kid), String(jwk.alg)];
  }

  #sealJWK(jwk: PrivateJWK): PrivateJWK {
    if (!this.#sealer.enabled) return jwk;
    const secret: Record<string, unknown> = {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(jwk)) {
      if (PRIVATE_JWK_MEMBERS.includes(k)) secret[k] = v;
      else out[k] = v;
    }
    if (Object.keys(secret).length === 0) return jwk;
    out[SEALED_MEMBER] = this.#sealer.seal(JSON.stringify(secret), SealedKeyStore.#place(jwk));
    return out as PrivateJWK;
  }

  #openJWK(jwk: PrivateJWK): PrivateJWK {
    if (!Object.hasOwn(jwk, SEALED_MEMBER)) return jwk; // clear, written before a key was set
    const { [SEALED_MEMBER]: envelope, ...pub } = jwk;
    let secret: unknown;
    try {
      secret = JSON.parse(this.#sealer.open(envelope, SealedKeyStore.#place(jwk)));
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('invalid', 'sealed signing key is not JSON', { cause: err });
    }
    if (!isRecord(secret)) throw new StoreError('invalid', 'sealed signing key is not a JSON object');
    return { ...pub, ...secret } as PrivateJWK;
  }

  async get(): Promise<VersionedKeys | undefined> {
    const stored = await this.#inner.get();
    if (!stored) return stored;
    return {
      version: stored.version,
      keys: { ...stored.keys, signing: stored.keys.signing.map((k) => this.#openJWK(k)) },
    };
  }

  compareAndSwap(expectedVersion: string | undefined, next: SigningKeySet): Promise<boolean> {
    return this.#inner.compareAndSwap(expectedVersion, { ...next, signing: next.signing.map((k) => this.#sealJWK(k)) });
  }
}

class SealedOfflineSessions implements OfflineSessionStore {
  readonly #inner: OfflineSessionStore;
  readonly #sealer: Sealer;

  constructor(inner: OfflineSessionStore, sealer: Sealer) {
    this.#inner = inner;
    this.#sealer = sealer;
  }

  static #place(userId: string, connectorId: string): string[] {
    return ['offlineSession', userId, connectorId];
  }

  async get(userId: string, connectorId: string): Promise<OfflineSession | undefined> {
    const session = await this.#inner.get(userId, connectorId);
    if (!session || session.connectorData === undefined) return session;
    return {
      ...session,
      connectorData: this.#sealer.openValue(
        session.connectorData,
        SealedOfflineSessions.#place(session.userId, session.connectorId),
      ),
    };
  }

  upsert(session: OfflineSession): Promise<void> {
    if (session.connectorData === undefined) return this.#inner.upsert(session);
    const connectorData = this.#sealer.sealValue(
      session.connectorData,
      SealedOfflineSessions.#place(session.userId, session.connectorId),
    );
    return this.#inner.upsert({ ...session, connectorData });
  }

  delete(userId: string, connectorId: string): Promise<void> {
    return this.#inner.delete(userId, connectorId);
  }
}

/** A Store whose secret fields are sealed before they reach `inner` (see the module comment). */
export class SealedStore extends ForwardingStore {
  readonly #keys: KeyStore;
  readonly #offlineSessions: OfflineSessionStore;
  readonly #sealer: Sealer;
  readonly #models = new Map<ModelName, ModelStore>();

  /** `keys`: parsed keys, or the raw `GATEHOUSE_STORAGE_KEY` text. No key: values are written in
   * clear and sealed values found are refused with a StoreError. */
  constructor(inner: Store, keys: StorageKey[] | string | undefined) {
    super(inner);
    this.#sealer = new Sealer(typeof keys === 'string' || keys === undefined ? parseStorageKeys(keys) : keys);
    this.#keys = new SealedKeyStore(inner.keys, this.#sealer);
    this.#offlineSessions = new SealedOfflineSessions(inner.offlineSessions, this.#sealer);
  }

  override get keys(): KeyStore {
    return this.#keys;
  }
  override get offlineSessions(): OfflineSessionStore {
    return this.#offlineSessions;
  }

  /** Whether new values are sealed (a key is configured). */
  get sealing(): boolean {
    return this.#sealer.enabled;
  }

  override model(name: ModelName): ModelStore {
    const fields = SEALED_MODEL_FIELDS[name];
    if (!fields) return this.inner.model(name);
    let m = this.#models.get(name);
    if (!m) this.#models.set(name, (m = new SealedModelStore(this.inner.model(name), name, this.#sealer, fields)));
    return m;
  }
}
