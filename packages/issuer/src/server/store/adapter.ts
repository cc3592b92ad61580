/**
 * The bridge from oidc-provider's Adapter interface to `Store.model(name)`.
 *
 * Two things differ from a plain pass-through:
 * - `consume` is the single-use gate. oidc-provider ignores consume's result, so a code redeemed
 *   by N parallel requests would mint N token sets; we throw `InvalidGrant` for every loser.
 * - Refresh tokens get a reuse window: a token rotated out less than `reuseInterval` seconds ago
 *   still looks unconsumed (so a client retrying after a lost response is not treated as a
 *   replay and does not get its whole grant revoked). What such a reuse yields (the same
 *   successor, never a second one) is decided in `grants/refresh-rotation.ts`.
 * Grants carry our own `gatehouse` field (the identity behind the grant); oidc-provider only
 * writes its own fields, so upserts keep ours.
 * Reads go through the request-scoped cache (`request-cache.ts`): hand `startIssuer`'s other
 * store users the same `withRequestCache` wrapper so a record is read once per request.
 */
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { StoreError, type ModelName, type ModelPayload, type ModelStore, type Store } from '@gatehouse/storage';
import type { ClientDirectory } from '../oidc/clients.ts';
import type { RefreshPolicy } from '../grants/refresh-policy.ts';
import type { Rotation } from '../grants/refresh-rotation.ts';
import { withRequestCache } from './request-cache.ts';

export const GRANT_EXTENSION = 'gatehouse';

/**
 * `temporarily_unavailable` with HTTP 503 (and a readable page on browser routes): the store did
 * not answer (a database restart, an API-server outage). Clients may retry; oidc-provider's
 * default for an adapter error would be a 500 `server_error`, which says nothing of the kind.
 */
export class StorageUnavailable extends errors.TemporarilyUnavailable {
  constructor(cause: unknown) {
    super('the storage backend is unavailable; retry shortly');
    this.status = 503;
    this.statusCode = 503;
    // OIDCProviderError hides the body of 5xx errors (server_error); this one is meant for the client.
    this.expose = true;
    this.cause = cause;
  }
}

/** Whether `err` is the store being unreachable (as thrown by a backend or by this adapter). */
export function isStorageUnavailable(err: unknown): boolean {
  return err instanceof StorageUnavailable || (err instanceof StoreError && err.code === 'unavailable');
}

async function guarded<T>(options: AdapterOptions, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof StoreError && err.code === 'unavailable') {
      options.onUnavailable?.(err);
      throw new StorageUnavailable(err);
    }
    throw err;
  }
}

export interface AdapterOptions {
  store: Store;
  clients: ClientDirectory;
  /** The reuse window of rotated refresh tokens (grants/refresh-policy.ts). */
  refresh: RefreshPolicy;
  /** Told of each RefreshToken read, so a rotation links its successor without reading it again. */
  rotation?: Pick<Rotation, 'noteRead'>;
  /** Told of every StoreError('unavailable') the adapter turns into a 503 (for the log). */
  onUnavailable?: (err: StoreError) => void;
}

class StoreAdapter implements Adapter {
  readonly #name: string;
  readonly #model: ModelStore;
  readonly #options: AdapterOptions;

  constructor(name: string, options: AdapterOptions) {
    this.#name = name;
    this.#model = options.store.model(name as ModelName);
    this.#options = options;
  }

  #inReuseWindow(payload: ModelPayload): boolean {
    return this.#name === 'RefreshToken' && this.#options.refresh.inReuseWindow(payload.consumed);
  }

  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    return guarded(this.#options, () => this.#upsert(id, payload, expiresIn));
  }

  async #upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const next: ModelPayload = { ...(payload as ModelPayload) };
    if (this.#name === 'Grant' && next[GRANT_EXTENSION] === undefined) {
      const existing = await this.#model.find(id);
      if (existing?.[GRANT_EXTENSION] !== undefined) next[GRANT_EXTENSION] = existing[GRANT_EXTENSION];
    }
    await this.#model.upsert(id, next, expiresIn);
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return guarded(this.#options, () => this.#find(id));
  }

  async #find(id: string): Promise<AdapterPayload | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 512) return undefined;
    const payload = await this.#model.find(id);
    if (!payload) return undefined;
    // Rotation links the successor from this read instead of reading the token again.
    if (this.#name === 'RefreshToken') this.#options.rotation?.noteRead(id, payload);
    if (payload.consumed && this.#inReuseWindow(payload)) {
      const { consumed: _consumed, ...rest } = payload;
      return rest as AdapterPayload;
    }
    return payload as AdapterPayload;
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return guarded(this.#options, async () => (await this.#model.findByUid(uid)) as AdapterPayload | undefined);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return guarded(
      this.#options,
      async () => (await this.#model.findByUserCode(userCode)) as AdapterPayload | undefined,
    );
  }

  async consume(id: string): Promise<void> {
    if (await guarded(this.#options, () => this.#model.consume(id))) return;
    throw new errors.InvalidGrant('grant request is invalid');
  }

  destroy(id: string): Promise<void> {
    return guarded(this.#options, () => this.#model.destroy(id));
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return guarded(this.#options, () => this.#model.revokeByGrantId(grantId));
  }
}

/** Clients come from the directory (static + store records), never from the Client model table. */
class ClientAdapter implements Adapter {
  readonly #clients: ClientDirectory;
  readonly #options: AdapterOptions;
  constructor(clients: ClientDirectory, options: AdapterOptions) {
    this.#clients = clients;
    this.#options = options;
  }
  async upsert(): Promise<void> {}
  find(id: string): Promise<AdapterPayload | undefined> {
    return guarded(this.#options, async () => (await this.#clients.metadataFor(id)) as AdapterPayload | undefined);
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

/** The `adapter` option: a non-async factory, as oidc-provider requires. */
export function createAdapterFactory(options: AdapterOptions): (name: string) => Adapter {
  const cached = { ...options, store: withRequestCache(options.store) };
  return (name: string) =>
    name === 'Client' ? new ClientAdapter(options.clients, options) : new StoreAdapter(name, cached);
}
