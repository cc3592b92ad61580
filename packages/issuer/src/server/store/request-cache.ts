/**
 * A request-scoped read cache over `Store.model(name)`.
 *
 * One token request reads the same record more than once: oidc-provider's `validateGrant` and our
 * `findAccount` (GrantIdentities) both read the Grant, and a refresh reads it a third time before
 * updating it; a login step reads its Interaction in `interactionDetails` and again in
 * `interactionResult`, and `attach` reads the Grant `grant.save()` has just written. On the
 * Kubernetes store each read is an API round-trip. Within one HTTP request a second `find` of the
 * same model and id returns the first result, or what this request last wrote there (upsert); a
 * consume / destroy / revokeByGrantId forgets it, so the next find reads the store again.
 *
 * The request is oidc-provider's koa context (`Provider.ctx`, which oidc-provider keeps in
 * AsyncLocalStorage for the whole request), or, for our own routes (the interaction pages), the
 * scope `requestScope()` opens around each HTTP request of the outer koa app.
 *
 * Only models whose records a request never waits on another request to change are cached:
 * refresh-rotation polls the RefreshToken of a racing winner, so RefreshToken is never cached.
 * Outside any request (background jobs, gc) every call goes through.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import Provider from 'oidc-provider';
import {
  ForwardingModelStore,
  ForwardingStore,
  type ModelName,
  type ModelPayload,
  type ModelStore,
  type Store,
} from '@gatehouse/storage';

/** The current request's identity (an object that lives as long as the request), or undefined. */
export type RequestScope = () => object | undefined;

const outerRequests = new AsyncLocalStorage<object>();

export const providerScope: RequestScope = () => (Provider.ctx as object | undefined) ?? outerRequests.getStore();

/**
 * Koa middleware: the rest of this HTTP request is one read-cache scope (for routes outside
 * oidc-provider; inside it, oidc-provider's own context takes over).
 */
export function requestScope(): (ctx: object, next: () => Promise<unknown>) => Promise<unknown> {
  return (ctx, next) => outerRequests.run(ctx, next);
}

/** Models read more than once per request whose records only this request changes meanwhile. */
export const CACHED_MODELS: ReadonlySet<ModelName> = new Set<ModelName>([
  'Grant',
  'AuthorizationCode',
  'AccessToken',
  'Session',
  'Interaction',
]);

type Reads = Map<string, Promise<ModelPayload | undefined>>;

/** Reads per request scope; entries go with the scope object (WeakMap), never outliving it. */
class ReadCache {
  readonly #byScope = new WeakMap<object, Reads>();
  /** Writes started per scope and key, so only the latest one leaves its payload in the cache. */
  readonly #writes = new WeakMap<object, Map<string, number>>();

  reads(scope: object): Reads {
    let reads = this.#byScope.get(scope);
    if (!reads) this.#byScope.set(scope, (reads = new Map()));
    return reads;
  }

  /** A ticket for a write of `k`; `isLatest(ticket)` once it is done. */
  startWrite(scope: object, k: string): () => boolean {
    let writes = this.#writes.get(scope);
    if (!writes) this.#writes.set(scope, (writes = new Map()));
    const ticket = (writes.get(k) ?? 0) + 1;
    writes.set(k, ticket);
    return () => writes.get(k) === ticket;
  }
}

const key = (model: ModelName, id: string): string => `${model}\0${id}`;

/** Caches `find` per request scope; writes forget (or remember) the record; lookups by uid or user code pass through. */
class CachedModelStore extends ForwardingModelStore {
  readonly #name: ModelName;
  readonly #cache: ReadCache;
  readonly #scope: RequestScope;

  constructor(name: ModelName, inner: ModelStore, cache: ReadCache, scope: RequestScope) {
    super(inner);
    this.#name = name;
    this.#cache = cache;
    this.#scope = scope;
  }

  #forget(id: string): void {
    const scope = this.#scope();
    if (scope) this.#cache.reads(scope).delete(key(this.#name, id));
  }

  /**
   * Runs a write, forgetting the record's cached read before and after it (a read that raced
   * the write in this request may hold the old value). `written`: what a find returns once the
   * write succeeded; it is remembered unless a later write of the same record was started.
   */
  async #write<T>(id: string, write: () => Promise<T>, written?: ModelPayload): Promise<T> {
    this.#forget(id);
    const scope = this.#scope();
    const isLatest = scope && typeof id === 'string' ? this.#cache.startWrite(scope, key(this.#name, id)) : undefined;
    let ok = false;
    try {
      const result = await write();
      ok = true;
      return result;
    } finally {
      this.#forget(id);
      if (ok && scope && written && isLatest?.()) {
        this.#cache.reads(scope).set(key(this.#name, id), Promise.resolve(written));
      }
    }
  }

  override async find(id: string): Promise<ModelPayload | undefined> {
    const scope = this.#scope();
    if (!scope || typeof id !== 'string') return this.inner.find(id);
    const reads = this.#cache.reads(scope);
    const k = key(this.#name, id);
    let read = reads.get(k);
    if (!read) {
      read = this.inner.find(id);
      reads.set(k, read);
      // A failed read is not remembered: the next find tries again.
      read.catch(() => {
        if (reads.get(k) === read) reads.delete(k);
      });
    }
    const payload = await read;
    // Each caller gets its own copy (oidc-provider and our code spread or mutate payloads).
    return payload === undefined ? undefined : structuredClone(payload);
  }

  override upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    // What the store keeps is the payload's JSON. A record written already expired (or with a
    // `consumed` the store may turn into a time) reads back differently: those are forgotten.
    const plain = (expiresIn === undefined || expiresIn > 0) && payload.consumed === undefined;
    return this.#write(
      id,
      () => this.inner.upsert(id, payload, expiresIn),
      plain ? (JSON.parse(JSON.stringify(payload)) as ModelPayload) : undefined,
    );
  }

  override consume(id: string): Promise<boolean> {
    return this.#write(id, () => this.inner.consume(id));
  }

  override destroy(id: string): Promise<void> {
    return this.#write(id, () => this.inner.destroy(id));
  }

  override async revokeByGrantId(grantId: string): Promise<void> {
    // The revoked records' ids are unknown here: forget every read of this model.
    const forgetAll = (): void => {
      const scope = this.#scope();
      if (!scope) return;
      const reads = this.#cache.reads(scope);
      const prefix = key(this.#name, '');
      for (const k of [...reads.keys()]) if (k.startsWith(prefix)) reads.delete(k);
    };
    forgetAll();
    try {
      await this.inner.revokeByGrantId(grantId);
    } finally {
      forgetAll();
    }
  }
}

/** A Store whose `model()` reads are cached per request; everything else is the inner store's. */
class RequestCachedStore extends ForwardingStore {
  readonly #cache = new ReadCache();
  readonly #scope: RequestScope;
  readonly #models = new Map<ModelName, ModelStore>();

  constructor(inner: Store, scope: RequestScope) {
    super(inner);
    this.#scope = scope;
  }

  override model(name: ModelName): ModelStore {
    const inner = this.inner.model(name);
    if (!CACHED_MODELS.has(name)) return inner;
    let cached = this.#models.get(name);
    if (!cached) this.#models.set(name, (cached = new CachedModelStore(name, inner, this.#cache, this.#scope)));
    return cached;
  }
}

/**
 * The store with request-scoped reads. Idempotent: wrapping a wrapped store returns it, so the
 * adapter and findAccount share one cache when they are handed the same wrapper.
 */
export function withRequestCache(store: Store, scope: RequestScope = providerScope): Store {
  return store instanceof RequestCachedStore ? store : new RequestCachedStore(store, scope);
}
