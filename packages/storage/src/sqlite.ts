/**
 * The embedded Store: one SQLite file (WAL), safe for several processes on one host. Conditional
 * writes (`consume`, key CAS) are single UPDATE statements, so SQLite's write lock makes them
 * atomic across processes. better-sqlite3 is synchronous; the async surface is the contract's.
 *
 * Model ids are bearer secrets (access/refresh tokens, codes, session ids): rows are keyed by
 * their SHA-256 (base64url), and `jti` (= the id) is removed from the payload and restored on read
 * from the id the caller gave, as storage-kubernetes does. Session and DeviceCode keep `jti`,
 * because findByUid/findByUserCode must return it without knowing it. The file (and SQLite's
 * -wal/-shm, which inherit its mode) is owner-only.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import {
  MODEL_NAMES,
  StoreError,
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
  encodeJSON,
  expiresAtFrom,
  indexFields,
  modelKey,
  modelOf,
  passwordKey,
  requireId,
  restoredPayload,
  storedPayload,
} from './backend-rules.ts';

export { modelKey };

export interface SqliteStoreOptions {
  /** How long a writer waits for another process's write lock (ms). Default 5,000. */
  busyTimeoutMs?: number;
  /** Rows deleted per gc statement. Default 500. */
  gcPageSize?: number;
}

/** Ordered schema migrations; index + 1 is the schema version they produce. A function runs in
 * the same transaction as the SQL strings. */
const MIGRATIONS: ReadonlyArray<string | ((db: Db) => void)> = [
  `
  CREATE TABLE oidc_models (
    model       TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    grant_id    TEXT,
    uid         TEXT,
    user_code   TEXT,
    expires_at  INTEGER,            -- epoch ms; NULL = never
    consumed_at INTEGER,            -- epoch ms; NULL = not consumed
    PRIMARY KEY (model, id)
  );
  CREATE INDEX oidc_models_grant_id  ON oidc_models (model, grant_id)  WHERE grant_id  IS NOT NULL;
  CREATE INDEX oidc_models_uid       ON oidc_models (model, uid)       WHERE uid       IS NOT NULL;
  CREATE INDEX oidc_models_user_code ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX oidc_models_expires_at ON oidc_models (expires_at)      WHERE expires_at IS NOT NULL;

  CREATE TABLE signing_keys (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    keys    TEXT    NOT NULL,
    version INTEGER NOT NULL
  );
  CREATE TABLE clients    (id    TEXT PRIMARY KEY, record TEXT NOT NULL);
  CREATE TABLE connectors (id    TEXT PRIMARY KEY, record TEXT NOT NULL);
  CREATE TABLE passwords  (email TEXT PRIMARY KEY, record TEXT NOT NULL);
  CREATE TABLE offline_sessions (
    user_id      TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (user_id, connector_id)
  );
  `,
  // 2: ids become SHA-256 keys and jti leaves the payload (existing rows are rewritten in place).
  (db: Db) => {
    db.exec('ALTER TABLE oidc_models ADD COLUMN jti_is_id INTEGER NOT NULL DEFAULT 0');
    const rows = db.prepare('SELECT rowid, model, id, payload FROM oidc_models').all() as Array<{
      rowid: number;
      model: string;
      id: string;
      payload: string;
    }>;
    const update = db.prepare('UPDATE oidc_models SET id = ?, payload = ?, jti_is_id = ? WHERE rowid = ?');
    for (const row of rows) {
      let payload: ModelPayload;
      try {
        payload = JSON.parse(row.payload) as ModelPayload;
      } catch {
        payload = {};
      }
      const { json, jtiIsId } = storedPayload(row.model, row.id, payload);
      update.run(modelKey(row.id), json, jtiIsId ? 1 : 0, row.rowid);
    }
  },
];

type Db = Database.Database;
type Guard = () => Db;

/** Maps a driver error to a StoreError; never includes ids or payloads, only SQLite's message. */
function toStoreError(cause: unknown, what: string): StoreError {
  if (cause instanceof StoreError) return cause;
  const code = (cause as { code?: unknown })?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreError('invalid', `${what}: the file is not a usable SQLite database (${message})`, { cause });
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) {
    return new StoreError('conflict', `${what}: ${message}`, { cause });
  }
  return new StoreError('unavailable', `${what}: ${message}`, { cause });
}

function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw toStoreError(cause, what);
  }
}

interface ModelRow {
  payload: string;
  consumed_at: number | null;
  jti_is_id: number;
}

function decodeRow(row: ModelRow | undefined, id: string | undefined): ModelPayload | undefined {
  return row && restoredPayload(row.payload, row.consumed_at, row.jti_is_id === 1, id);
}

class SqliteModelStore implements ModelStore {
  readonly #model: ModelName;
  readonly #db: Guard;

  constructor(model: ModelName, db: Guard) {
    this.#model = model;
    this.#db = db;
  }

  async upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    const db = this.#db();
    requireId(id, 'id');
    const now = Date.now();
    const { json, jtiIsId } = storedPayload(this.#model, id, payload);
    const { grantId, uid, userCode } = indexFields(payload);
    guarded(`${this.#model}.upsert`, () =>
      statements(db).upsert.run(
        this.#model,
        modelKey(id),
        json,
        grantId ?? null,
        uid ?? null,
        userCode ?? null,
        expiresAtFrom(expiresIn, now) ?? null,
        consumedAtFrom(payload, now) ?? null,
        jtiIsId ? 1 : 0,
      ),
    );
  }

  async find(id: string): Promise<ModelPayload | undefined> {
    const db = this.#db();
    if (typeof id !== 'string') return undefined;
    const row = guarded(
      `${this.#model}.find`,
      () => statements(db).find.get(this.#model, modelKey(id), Date.now()) as ModelRow | undefined,
    );
    return decodeRow(row, id);
  }

  async findByUid(uid: string): Promise<ModelPayload | undefined> {
    const db = this.#db();
    const row = guarded(
      `${this.#model}.findByUid`,
      () => statements(db).findByUid.get(this.#model, uid, Date.now()) as ModelRow | undefined,
    );
    return decodeRow(row, undefined);
  }

  async findByUserCode(userCode: string): Promise<ModelPayload | undefined> {
    const db = this.#db();
    const row = guarded(
      `${this.#model}.findByUserCode`,
      () => statements(db).findByUserCode.get(this.#model, userCode, Date.now()) as ModelRow | undefined,
    );
    return decodeRow(row, undefined);
  }

  async consume(id: string): Promise<boolean> {
    const db = this.#db();
    const now = Date.now();
    if (typeof id !== 'string') return false;
    const result = guarded(`${this.#model}.consume`, () =>
      statements(db).consume.run(now, this.#model, modelKey(id), now),
    );
    return result.changes === 1;
  }

  async destroy(id: string): Promise<void> {
    const db = this.#db();
    if (typeof id !== 'string') return;
    guarded(`${this.#model}.destroy`, () => statements(db).destroy.run(this.#model, modelKey(id)));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const db = this.#db();
    guarded(`${this.#model}.revokeByGrantId`, () => statements(db).revokeByGrantId.run(this.#model, grantId));
  }
}

/** Prepared statements, compiled once per connection. */
interface Statements {
  upsert: Database.Statement;
  find: Database.Statement;
  findByUid: Database.Statement;
  findByUserCode: Database.Statement;
  consume: Database.Statement;
  destroy: Database.Statement;
  revokeByGrantId: Database.Statement;
  gcPage: Database.Statement;
  keysGet: Database.Statement;
  keysCreate: Database.Statement;
  keysSwap: Database.Statement;
}

const prepared = new WeakMap<Db, Statements>();

function statements(db: Db): Statements {
  let s = prepared.get(db);
  if (s) return s;
  const live = '(expires_at IS NULL OR expires_at > ?)';
  s = {
    upsert: db.prepare(`
      INSERT INTO oidc_models (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at, jti_is_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (model, id) DO UPDATE SET
        payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
        user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at,
        jti_is_id = excluded.jti_is_id`),
    find: db.prepare(`SELECT payload, consumed_at, jti_is_id FROM oidc_models WHERE model = ? AND id = ? AND ${live}`),
    findByUid: db.prepare(
      `SELECT payload, consumed_at, jti_is_id FROM oidc_models WHERE model = ? AND uid = ? AND ${live} ORDER BY expires_at DESC LIMIT 1`,
    ),
    findByUserCode: db.prepare(
      `SELECT payload, consumed_at, jti_is_id FROM oidc_models WHERE model = ? AND user_code = ? AND ${live} ORDER BY expires_at DESC LIMIT 1`,
    ),
    consume: db.prepare(
      `UPDATE oidc_models SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL AND ${live}`,
    ),
    destroy: db.prepare('DELETE FROM oidc_models WHERE model = ? AND id = ?'),
    revokeByGrantId: db.prepare('DELETE FROM oidc_models WHERE model = ? AND grant_id = ?'),
    gcPage: db.prepare(`
      DELETE FROM oidc_models WHERE rowid IN (
        SELECT rowid FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`),
    keysGet: db.prepare('SELECT keys, version FROM signing_keys WHERE id = 1'),
    keysCreate: db.prepare('INSERT INTO signing_keys (id, keys, version) VALUES (1, ?, 1) ON CONFLICT (id) DO NOTHING'),
    keysSwap: db.prepare('UPDATE signing_keys SET keys = ?, version = version + 1 WHERE id = 1 AND version = ?'),
  };
  prepared.set(db, s);
  return s;
}

class SqliteKeyStore implements KeyStore {
  readonly #db: Guard;

  constructor(db: Guard) {
    this.#db = db;
  }

  async get(): Promise<VersionedKeys | undefined> {
    const db = this.#db();
    const row = guarded(
      'keys.get',
      () => statements(db).keysGet.get() as { keys: string; version: number } | undefined,
    );
    return row && { keys: JSON.parse(row.keys) as SigningKeySet, version: String(row.version) };
  }

  async compareAndSwap(expectedVersion: string | undefined, next: SigningKeySet): Promise<boolean> {
    const db = this.#db();
    const json = encodeJSON(next, 'signing key set');
    if (expectedVersion === undefined) {
      return guarded('keys.compareAndSwap', () => statements(db).keysCreate.run(json).changes === 1);
    }
    if (!/^[1-9][0-9]{0,15}$/.test(expectedVersion)) return false;
    const version = Number(expectedVersion);
    return guarded('keys.compareAndSwap', () => statements(db).keysSwap.run(json, version).changes === 1);
  }
}

/** A key → JSON record table (clients, connectors, passwords). */
class SqliteRecordStore<T extends object> implements RecordStore<T> {
  readonly #db: Guard;
  readonly #table: string;
  readonly #keyColumn: string;
  readonly #keyOf: (record: T) => string;
  readonly #normaliseKey: (id: string) => string;
  readonly #normaliseRecord: (record: T) => T;

  constructor(options: {
    db: Guard;
    table: 'clients' | 'connectors' | 'passwords';
    keyColumn: 'id' | 'email';
    keyOf: (record: T) => string;
    normaliseKey?: (id: string) => string;
    normaliseRecord?: (record: T) => T;
  }) {
    this.#db = options.db;
    this.#table = options.table;
    this.#keyColumn = options.keyColumn;
    this.#keyOf = options.keyOf;
    this.#normaliseKey = options.normaliseKey ?? ((id) => id);
    this.#normaliseRecord = options.normaliseRecord ?? ((record) => record);
  }

  async get(id: string): Promise<T | undefined> {
    const db = this.#db();
    const row = guarded(
      `${this.#table}.get`,
      () =>
        db.prepare(`SELECT record FROM ${this.#table} WHERE ${this.#keyColumn} = ?`).get(this.#normaliseKey(id)) as
          { record: string } | undefined,
    );
    return row && (JSON.parse(row.record) as T);
  }

  async list(): Promise<T[]> {
    const db = this.#db();
    const rows = guarded(
      `${this.#table}.list`,
      () =>
        db.prepare(`SELECT record FROM ${this.#table} ORDER BY ${this.#keyColumn}`).all() as Array<{ record: string }>,
    );
    return rows.map((row) => JSON.parse(row.record) as T);
  }

  async upsert(record: T): Promise<void> {
    const db = this.#db();
    const normalised = this.#normaliseRecord(record);
    const key = this.#normaliseKey(requireId(this.#keyOf(normalised), `${this.#table} key`));
    const json = encodeJSON(normalised, this.#table);
    guarded(`${this.#table}.upsert`, () =>
      db
        .prepare(
          `INSERT INTO ${this.#table} (${this.#keyColumn}, record) VALUES (?, ?)
                  ON CONFLICT (${this.#keyColumn}) DO UPDATE SET record = excluded.record`,
        )
        .run(key, json),
    );
  }

  async delete(id: string): Promise<void> {
    const db = this.#db();
    guarded(`${this.#table}.delete`, () =>
      db.prepare(`DELETE FROM ${this.#table} WHERE ${this.#keyColumn} = ?`).run(this.#normaliseKey(id)),
    );
  }
}

class SqliteOfflineSessionStore implements OfflineSessionStore {
  readonly #db: Guard;

  constructor(db: Guard) {
    this.#db = db;
  }

  async get(userId: string, connectorId: string): Promise<OfflineSession | undefined> {
    const db = this.#db();
    const row = guarded(
      'offlineSessions.get',
      () =>
        db
          .prepare('SELECT record FROM offline_sessions WHERE user_id = ? AND connector_id = ?')
          .get(userId, connectorId) as { record: string } | undefined,
    );
    return row && (JSON.parse(row.record) as OfflineSession);
  }

  async upsert(session: OfflineSession): Promise<void> {
    const db = this.#db();
    requireId(session.userId, 'offline session userId');
    requireId(session.connectorId, 'offline session connectorId');
    const json = encodeJSON(session, 'offline session');
    guarded('offlineSessions.upsert', () =>
      db
        .prepare(
          `INSERT INTO offline_sessions (user_id, connector_id, record) VALUES (?, ?, ?)
                  ON CONFLICT (user_id, connector_id) DO UPDATE SET record = excluded.record`,
        )
        .run(session.userId, session.connectorId, json),
    );
  }

  async delete(userId: string, connectorId: string): Promise<void> {
    const db = this.#db();
    guarded('offlineSessions.delete', () =>
      db.prepare('DELETE FROM offline_sessions WHERE user_id = ? AND connector_id = ?').run(userId, connectorId),
    );
  }
}

/** Creates or upgrades the schema inside one write transaction, so concurrent openers agree. */
function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  // Rewritten rows (plain-text ids of schema 1) are zeroed on disk, not left in free pages.
  db.pragma('secure_delete = ON');
  const run = db.transaction(() => {
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        'invalid',
        `SQLite schema version ${current} is newer than this Gatehouse supports (${MIGRATIONS.length}); upgrade Gatehouse`,
      );
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      const step = MIGRATIONS[version - 1]!;
      if (typeof step === 'string') db.exec(step);
      else step(db);
    }
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else if (current < MIGRATIONS.length) db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  });
  run.immediate();
  db.pragma('secure_delete = OFF');
}

/** Creates the file owner-only (SQLite gives -wal/-shm the database file's mode) and takes
 * group/other access away from an existing one. Failures are left to the open to report. */
function restrictFileMode(file: string): void {
  if (file === ':memory:' || file === '' || file.startsWith('file:')) return;
  try {
    if (!existsSync(file)) closeSync(openSync(file, 'wx', 0o600));
  } catch {
    // A missing folder: `new Database` reports it.
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const mode = statSync(f).mode;
      if ((mode & 0o077) !== 0 && (mode & 0o170000) === 0o100000) chmodSync(f, mode & 0o700);
    } catch {
      // Absent, or not ours to change: `new Database` reports what matters.
    }
  }
}

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

export class SqliteStore implements Store {
  readonly type = 'sqlite';
  readonly file: string;
  readonly keys: KeyStore;
  readonly clients: RecordStore<OAuth2Client>;
  readonly connectors: RecordStore<ConnectorRecord>;
  readonly offlineSessions: OfflineSessionStore;
  readonly passwords: RecordStore<PasswordUser>;
  readonly #db: Db;
  readonly #gcPageSize: number;
  readonly #models = new Map<ModelName, SqliteModelStore>();
  #closed = false;

  /** Opens (creating if needed) the database file and migrates its schema. Throws StoreError. */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    this.#gcPageSize = options.gcPageSize ?? 500;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    let db: Db | undefined;
    try {
      restrictFileMode(file);
      db = new Database(file, { timeout: busyTimeoutMs });
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      // journal_mode is the first statement that reads the file: a corrupt file fails here.
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (file !== ':memory:' && String(mode).toLowerCase() !== 'wal') {
        throw new StoreError('unavailable', `SQLite store at ${file}: could not enable WAL mode (got ${String(mode)})`);
      }
      db.pragma('synchronous = NORMAL');
      migrate(db);
      statements(db);
    } catch (cause) {
      try {
        db?.close();
      } catch {
        // Already failing; the open error is the one to report.
      }
      throw toStoreError(cause, `cannot open SQLite store at ${file}`);
    }
    this.#db = db;

    const guard: Guard = () => {
      if (this.#closed) throw closedError(this.type);
      return this.#db;
    };
    for (const name of MODEL_NAMES) this.#models.set(name, new SqliteModelStore(name, guard));
    this.keys = new SqliteKeyStore(guard);
    this.clients = new SqliteRecordStore<OAuth2Client>({
      db: guard,
      table: 'clients',
      keyColumn: 'id',
      keyOf: (c) => c.id,
    });
    this.connectors = new SqliteRecordStore<ConnectorRecord>({
      db: guard,
      table: 'connectors',
      keyColumn: 'id',
      keyOf: (c) => c.id,
    });
    this.passwords = new SqliteRecordStore<PasswordUser>({
      db: guard,
      table: 'passwords',
      keyColumn: 'email',
      keyOf: (p) => p.email,
      normaliseKey: passwordKey,
      normaliseRecord: (p) => ({ ...p, email: typeof p.email === 'string' ? passwordKey(p.email) : p.email }),
    });
    this.offlineSessions = new SqliteOfflineSessionStore(guard);
  }

  model(name: ModelName): ModelStore {
    return modelOf(this.#models, name);
  }

  /** Deletes expired rows one page per statement, so no statement holds the write lock for long. */
  async gc(now: Date = new Date()): Promise<number> {
    if (this.#closed) throw closedError(this.type);
    const nowMs = now.getTime();
    const page = statements(this.#db).gcPage;
    let removed = 0;
    for (;;) {
      const { changes } = guarded('gc', () => page.run(nowMs, this.#gcPageSize));
      removed += changes;
      if (changes === 0) return removed;
    }
  }

  async ping(): Promise<void> {
    if (this.#closed) throw closedError(this.type);
    guarded('ping', () => this.#db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    guarded('close', () => this.#db.close());
  }
}
