/**
 * @gatehouse/storage-postgres: the Store on PostgreSQL (Dex's `postgres` storage), shared by any
 * number of issuer replicas. pg's Pool; schema migrated at start-up under an advisory lock
 * (schema.ts); model ids stored as SHA-256 like the SQLite backend (rules shared through
 * `@gatehouse/storage/backend-rules`); clients and connectors pushed to every replica by LISTEN/NOTIFY
 * (watch.ts).
 */
import {
  MODEL_NAMES,
  type ChangeEvent,
  type ConnectorRecord,
  type KeyStore,
  type ModelName,
  type ModelStore,
  type OAuth2Client,
  type OfflineSessionStore,
  type PasswordUser,
  type RecordStore,
  type Store,
} from '@gatehouse/storage';
import { modelOf, passwordKey } from '@gatehouse/storage/backend-rules';
import { poolSettings, type PostgresStoreConfig } from './config.ts';
import { Db, toStoreError, type Logger } from './db.ts';
import { collectGarbage, PostgresModelStore } from './model-store.ts';
import { PostgresKeyStore, PostgresOfflineSessionStore, TableRecords, type TableSpec } from './record-stores.ts';
import { migrate } from './schema.ts';
import { ChangeListener, type ListenerOptions } from './watch.ts';

export { poolSettings, SSL_MODES, type PostgresStoreConfig, type PostgresSslConfig, type SslMode } from './config.ts';
export { MIGRATIONS, POSTGRES_SCHEMA_VERSION, MIGRATION_LOCK, migrate } from './schema.ts';

export interface PostgresStoreOptions {
  logger?: Logger;
  /** Bound on every statement, client- and server-side (default 10 s). */
  statementTimeoutMs?: number;
  /** Rows deleted per gc statement (default 500). */
  gcPageSize?: number;
  watch?: ListenerOptions;
}

const quietLogger: Logger = { warn: () => undefined };

class PostgresRecordStore<T extends object> implements RecordStore<T> {
  protected readonly records: TableRecords<T>;

  constructor(records: TableRecords<T>) {
    this.records = records;
  }

  get(id: string): Promise<T | undefined> {
    return this.records.get(id);
  }
  list(): Promise<T[]> {
    return this.records.list();
  }
  upsert(record: T): Promise<void> {
    return this.records.upsert(record);
  }
  delete(id: string): Promise<void> {
    return this.records.delete(id);
  }
}

/** Clients and connectors: also pushed to every replica (watch.ts). */
class WatchedRecordStore<T extends object> extends PostgresRecordStore<T> {
  readonly #listener: ChangeListener;

  constructor(records: TableRecords<T>, listener: ChangeListener) {
    super(records);
    this.#listener = listener;
  }

  watch(onChange: (event: ChangeEvent<T>) => void): () => void {
    const { table, keyColumn } = this.records.spec;
    return this.#listener.watch<T>(table, keyColumn, onChange);
  }
}

export class PostgresStore implements Store {
  readonly type = 'postgres';
  readonly keys: KeyStore;
  readonly clients: RecordStore<OAuth2Client>;
  readonly connectors: RecordStore<ConnectorRecord>;
  readonly offlineSessions: OfflineSessionStore;
  readonly passwords: RecordStore<PasswordUser>;
  readonly #db: Db;
  readonly #listener: ChangeListener;
  readonly #models = new Map<ModelName, PostgresModelStore>();
  readonly #gcPageSize: number;

  /** Use `openPostgresStore`, which also migrates the schema. */
  constructor(config: PostgresStoreConfig, options: PostgresStoreOptions = {}) {
    const settings = poolSettings(config, options);
    const logger = options.logger ?? quietLogger;
    this.#db = new Db(settings, logger);
    this.#listener = new ChangeListener(this.#db, settings.pool, logger, options.watch);
    this.#gcPageSize = options.gcPageSize ?? 500;
    for (const name of MODEL_NAMES) this.#models.set(name, new PostgresModelStore(name, this.#db));
    this.keys = new PostgresKeyStore(this.#db);
    const spec = <T>(s: TableSpec<T>): TableSpec<T> => s;
    this.clients = new WatchedRecordStore(
      new TableRecords(
        this.#db,
        spec<OAuth2Client>({ table: 'gatehouse_clients', keyColumn: 'id', keyOf: (c) => c.id }),
      ),
      this.#listener,
    );
    this.connectors = new WatchedRecordStore(
      new TableRecords(
        this.#db,
        spec<ConnectorRecord>({ table: 'gatehouse_connectors', keyColumn: 'id', keyOf: (c) => c.id }),
      ),
      this.#listener,
    );
    this.passwords = new PostgresRecordStore(
      new TableRecords(
        this.#db,
        spec<PasswordUser>({
          table: 'gatehouse_passwords',
          keyColumn: 'email',
          keyOf: (p) => p.email,
          normaliseKey: passwordKey,
          normaliseRecord: (p) => ({ ...p, email: typeof p.email === 'string' ? passwordKey(p.email) : p.email }),
        }),
      ),
    );
    this.offlineSessions = new PostgresOfflineSessionStore(this.#db);
  }

  /** Creates or upgrades the schema (under the advisory lock); returns the versions applied. */
  async migrate(): Promise<number[]> {
    return this.#db.withClient('migrate', (client) => migrate(client));
  }

  model(name: ModelName): ModelStore {
    return modelOf(this.#models, name);
  }

  async gc(now: Date = new Date()): Promise<number> {
    return collectGarbage(this.#db, now.getTime(), this.#gcPageSize);
  }

  async ping(): Promise<void> {
    await this.#db.query('ping', 'SELECT 1');
  }

  /** The pool's connections (tests, metrics). */
  get poolStats(): { total: number; idle: number; waiting: number } {
    const p = this.#db.pool;
    return { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount };
  }

  async close(): Promise<void> {
    if (this.#db.closed) return;
    await this.#listener.close();
    await this.#db.close().catch((err: unknown) => {
      throw toStoreError(err, 'close');
    });
  }
}

/** Connects, migrates the schema, and returns the store. Throws StoreError (`invalid` for bad keys). */
export async function openPostgresStore(
  config: PostgresStoreConfig,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const store = new PostgresStore(config, options);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw toStoreError(err, 'cannot open the PostgreSQL store');
  }
  return store;
}
