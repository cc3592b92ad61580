/**
 * The in-process Store (tests, single-replica dev). Everything is held as JSON text so callers
 * always get fresh objects; secondary indexes make the lookups oidc-provider needs O(1).
 */
import {
  MODEL_NAMES,
  type ChangeEvent,
  type ConnectorRecord,
  type KeyStore,
  type ModelName,
  type ModelPayload,
  type ModelStore,
  type OAuth2Client,
  type OfflineSession,
  type OfflineSessionStore,
  type PasswordUser,
  type RecordStore,
  type SigningKeySet,
  type Store,
  type VersionedKeys,
} from './types.ts';
import {
  closedError,
  consumedAtFrom,
  decodePayload,
  encodeJSON,
  expiresAtFrom,
  indexFields,
  isExpired,
  modelOf,
  passwordKey,
  requireId,
} from './backend-rules.ts';

type Guard = () => void;

interface Entry {
  payload: string;
  expiresAt: number | undefined;
  consumedAt: number | undefined;
  grantId: string | undefined;
  uid: string | undefined;
  userCode: string | undefined;
}

/** key → set of record ids, for the secondary indexes. */
class Index {
  readonly #ids = new Map<string, Set<string>>();

  add(key: string | undefined, id: string): void {
    if (key === undefined) return;
    let set = this.#ids.get(key);
    if (!set) this.#ids.set(key, (set = new Set()));
    set.add(id);
  }

  remove(key: string | undefined, id: string): void {
    if (key === undefined) return;
    const set = this.#ids.get(key);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.#ids.delete(key);
  }

  /** A snapshot, so callers may delete while iterating. */
  get(key: string): string[] {
    return [...(this.#ids.get(key) ?? [])];
  }
}

class MemoryModelStore implements ModelStore {
  readonly #guard: Guard;
  readonly #entries = new Map<string, Entry>();
  readonly #byGrantId = new Index();
  readonly #byUid = new Index();
  readonly #byUserCode = new Index();

  constructor(guard: Guard) {
    this.#guard = guard;
  }

  async upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    this.#guard();
    requireId(id, 'id');
    const now = Date.now();
    const json = encodeJSON(payload, 'payload');
    this.#remove(id);
    const entry: Entry = {
      payload: json,
      expiresAt: expiresAtFrom(expiresIn, now),
      consumedAt: consumedAtFrom(payload, now),
      ...indexFields(payload),
    };
    this.#entries.set(id, entry);
    this.#byGrantId.add(entry.grantId, id);
    this.#byUid.add(entry.uid, id);
    this.#byUserCode.add(entry.userCode, id);
  }

  async find(id: string): Promise<ModelPayload | undefined> {
    this.#guard();
    const entry = this.#live(id, Date.now());
    return entry && decodePayload(entry.payload, entry.consumedAt);
  }

  async findByUid(uid: string): Promise<ModelPayload | undefined> {
    this.#guard();
    return this.#findBy(this.#byUid, uid);
  }

  async findByUserCode(userCode: string): Promise<ModelPayload | undefined> {
    this.#guard();
    return this.#findBy(this.#byUserCode, userCode);
  }

  /** No await between the check and the write: atomic within the process. */
  async consume(id: string): Promise<boolean> {
    this.#guard();
    const now = Date.now();
    const entry = this.#live(id, now);
    if (!entry || entry.consumedAt !== undefined) return false;
    entry.consumedAt = now;
    return true;
  }

  async destroy(id: string): Promise<void> {
    this.#guard();
    this.#remove(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#guard();
    for (const id of this.#byGrantId.get(grantId)) this.#remove(id);
  }

  /** Removes expired entries; returns how many. */
  gc(nowMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.#entries) {
      if (isExpired(entry.expiresAt, nowMs)) {
        this.#remove(id);
        removed++;
      }
    }
    return removed;
  }

  #findBy(index: Index, key: string): ModelPayload | undefined {
    const now = Date.now();
    for (const id of index.get(key)) {
      const entry = this.#live(id, now);
      if (entry) return decodePayload(entry.payload, entry.consumedAt);
    }
    return undefined;
  }

  /** The entry unless absent or expired; expired entries are dropped on sight. */
  #live(id: string, nowMs: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (isExpired(entry.expiresAt, nowMs)) {
      this.#remove(id);
      return undefined;
    }
    return entry;
  }

  #remove(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    this.#byGrantId.remove(entry.grantId, id);
    this.#byUid.remove(entry.uid, id);
    this.#byUserCode.remove(entry.userCode, id);
  }
}

class MemoryKeyStore implements KeyStore {
  readonly #guard: Guard;
  #stored: { keys: string; version: number } | undefined;

  constructor(guard: Guard) {
    this.#guard = guard;
  }

  async get(): Promise<VersionedKeys | undefined> {
    this.#guard();
    if (!this.#stored) return undefined;
    return { keys: JSON.parse(this.#stored.keys) as SigningKeySet, version: String(this.#stored.version) };
  }

  async compareAndSwap(expectedVersion: string | undefined, next: SigningKeySet): Promise<boolean> {
    this.#guard();
    const json = encodeJSON(next, 'signing key set');
    const current = this.#stored === undefined ? undefined : String(this.#stored.version);
    if (current !== expectedVersion) return false;
    this.#stored = { keys: json, version: (this.#stored?.version ?? 0) + 1 };
    return true;
  }
}

class MemoryRecordStore<T extends object> implements RecordStore<T> {
  readonly #guard: Guard;
  readonly #what: string;
  readonly #keyOf: (record: T) => string;
  readonly #normaliseKey: (id: string) => string;
  readonly #normaliseRecord: (record: T) => T;
  readonly #records = new Map<string, string>();
  readonly #listeners = new Set<(event: ChangeEvent<T>) => void>();

  constructor(options: {
    guard: Guard;
    what: string;
    keyOf: (record: T) => string;
    normaliseKey?: (id: string) => string;
    normaliseRecord?: (record: T) => T;
  }) {
    this.#guard = options.guard;
    this.#what = options.what;
    this.#keyOf = options.keyOf;
    this.#normaliseKey = options.normaliseKey ?? ((id) => id);
    this.#normaliseRecord = options.normaliseRecord ?? ((record) => record);
  }

  async get(id: string): Promise<T | undefined> {
    this.#guard();
    const json = this.#records.get(this.#normaliseKey(id));
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  async list(): Promise<T[]> {
    this.#guard();
    return [...this.#records.values()].map((json) => JSON.parse(json) as T);
  }

  async upsert(record: T): Promise<void> {
    this.#guard();
    const normalised = this.#normaliseRecord(record);
    const key = this.#normaliseKey(requireId(this.#keyOf(normalised), `${this.#what} key`));
    const json = encodeJSON(normalised, this.#what);
    this.#records.set(key, json);
    this.#emit({ type: 'upsert', record: JSON.parse(json) as T });
  }

  async delete(id: string): Promise<void> {
    this.#guard();
    const key = this.#normaliseKey(id);
    if (this.#records.delete(key)) this.#emit({ type: 'delete', id: key });
  }

  watch(onChange: (event: ChangeEvent<T>) => void): () => void {
    this.#listeners.add(onChange);
    return () => {
      this.#listeners.delete(onChange);
    };
  }

  clearListeners(): void {
    this.#listeners.clear();
  }

  /** Listeners run after the write; one that throws does not fail the writer or the others. */
  #emit(event: ChangeEvent<T>): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own concern.
      }
    }
  }
}

class MemoryOfflineSessionStore implements OfflineSessionStore {
  readonly #guard: Guard;
  readonly #sessions = new Map<string, string>();

  constructor(guard: Guard) {
    this.#guard = guard;
  }

  async get(userId: string, connectorId: string): Promise<OfflineSession | undefined> {
    this.#guard();
    const json = this.#sessions.get(offlineKey(userId, connectorId));
    return json === undefined ? undefined : (JSON.parse(json) as OfflineSession);
  }

  async upsert(session: OfflineSession): Promise<void> {
    this.#guard();
    requireId(session.userId, 'offline session userId');
    requireId(session.connectorId, 'offline session connectorId');
    this.#sessions.set(offlineKey(session.userId, session.connectorId), encodeJSON(session, 'offline session'));
  }

  async delete(userId: string, connectorId: string): Promise<void> {
    this.#guard();
    this.#sessions.delete(offlineKey(userId, connectorId));
  }
}

function offlineKey(userId: string, connectorId: string): string {
  return JSON.stringify([userId, connectorId]);
}

export class MemoryStore implements Store {
  readonly type = 'memory';
  readonly keys: KeyStore;
  readonly clients: RecordStore<OAuth2Client>;
  readonly connectors: RecordStore<ConnectorRecord>;
  readonly offlineSessions: OfflineSessionStore;
  readonly passwords: RecordStore<PasswordUser>;
  readonly #models = new Map<ModelName, MemoryModelStore>();
  readonly #watched: Array<MemoryRecordStore<OAuth2Client> | MemoryRecordStore<ConnectorRecord>>;
  #closed = false;

  constructor() {
    const guard: Guard = () => {
      if (this.#closed) throw closedError(this.type);
    };
    for (const name of MODEL_NAMES) this.#models.set(name, new MemoryModelStore(guard));
    this.keys = new MemoryKeyStore(guard);
    const clients = new MemoryRecordStore<OAuth2Client>({ guard, what: 'client', keyOf: (c) => c.id });
    const connectors = new MemoryRecordStore<ConnectorRecord>({ guard, what: 'connector', keyOf: (c) => c.id });
    this.clients = clients;
    this.connectors = connectors;
    this.#watched = [clients, connectors];
    this.offlineSessions = new MemoryOfflineSessionStore(guard);
    this.passwords = new MemoryRecordStore<PasswordUser>({
      guard,
      what: 'password user',
      keyOf: (p) => p.email,
      normaliseKey: passwordKey,
      normaliseRecord: (p) => ({ ...p, email: typeof p.email === 'string' ? passwordKey(p.email) : p.email }),
    });
  }

  model(name: ModelName): ModelStore {
    return modelOf(this.#models, name);
  }

  async gc(now: Date = new Date()): Promise<number> {
    if (this.#closed) throw closedError(this.type);
    let removed = 0;
    for (const store of this.#models.values()) removed += store.gc(now.getTime());
    return removed;
  }

  async ping(): Promise<void> {
    if (this.#closed) throw closedError(this.type);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const store of this.#watched) store.clearListeners();
  }
}
