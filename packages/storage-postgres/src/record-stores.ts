/** Signing keys (one row, compare-and-swap on a version), key → JSON record tables, offline sessions. */
import type { KeyStore, OfflineSession, OfflineSessionStore, SigningKeySet, VersionedKeys } from '@gatehouse/storage';
import { encodeJSON, requireId } from '@gatehouse/storage/backend-rules';
import type { Db } from './db.ts';

export class PostgresKeyStore implements KeyStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(): Promise<VersionedKeys | undefined> {
    const { rows } = await this.#db.query('keys.get', 'SELECT keys, version FROM gatehouse_signing_keys WHERE id = 1');
    const row = rows[0];
    return row && { keys: JSON.parse(row.keys as string) as SigningKeySet, version: String(row.version) };
  }

  async compareAndSwap(expectedVersion: string | undefined, next: SigningKeySet): Promise<boolean> {
    const json = encodeJSON(next, 'signing key set');
    if (expectedVersion === undefined) {
      const { rowCount } = await this.#db.query(
        'keys.compareAndSwap',
        'INSERT INTO gatehouse_signing_keys (id, keys, version) VALUES (1, $1, 1) ON CONFLICT (id) DO NOTHING',
        [json],
      );
      return rowCount === 1;
    }
    if (!/^[1-9][0-9]{0,15}$/.test(expectedVersion)) return false;
    const { rowCount } = await this.#db.query(
      'keys.compareAndSwap',
      'UPDATE gatehouse_signing_keys SET keys = $1, version = version + 1 WHERE id = 1 AND version = $2',
      [json, expectedVersion],
    );
    return rowCount === 1;
  }
}

export interface TableSpec<T> {
  table: 'gatehouse_clients' | 'gatehouse_connectors' | 'gatehouse_passwords';
  keyColumn: 'id' | 'email';
  keyOf(record: T): string;
  normaliseKey?(id: string): string;
  normaliseRecord?(record: T): T;
}

/** The plain key → JSON part of a RecordStore (watch is added by PostgresRecordStore in index.ts). */
export class TableRecords<T extends object> {
  readonly #db: Db;
  readonly spec: TableSpec<T>;

  constructor(db: Db, spec: TableSpec<T>) {
    this.#db = db;
    this.spec = spec;
  }

  #key(id: string): string {
    return this.spec.normaliseKey ? this.spec.normaliseKey(id) : id;
  }

  async get(id: string): Promise<T | undefined> {
    if (typeof id !== 'string') return undefined;
    const { table, keyColumn } = this.spec;
    const { rows } = await this.#db.query(`${table}.get`, `SELECT record FROM ${table} WHERE ${keyColumn} = $1`, [
      this.#key(id),
    ]);
    return rows[0] && (JSON.parse(rows[0].record as string) as T);
  }

  async list(): Promise<T[]> {
    const { table, keyColumn } = this.spec;
    const { rows } = await this.#db.query(`${table}.list`, `SELECT record FROM ${table} ORDER BY ${keyColumn}`);
    return rows.map((row) => JSON.parse(row.record as string) as T);
  }

  async upsert(record: T): Promise<void> {
    const { table, keyColumn } = this.spec;
    const normalised = this.spec.normaliseRecord ? this.spec.normaliseRecord(record) : record;
    const key = this.#key(requireId(this.spec.keyOf(normalised), `${table} key`));
    await this.#db.query(
      `${table}.upsert`,
      `INSERT INTO ${table} (${keyColumn}, record) VALUES ($1, $2) ON CONFLICT (${keyColumn}) DO UPDATE SET record = excluded.record`,
      [key, encodeJSON(normalised, table)],
    );
  }

  async delete(id: string): Promise<void> {
    if (typeof id !== 'string') return;
    const { table, keyColumn } = this.spec;
    await this.#db.query(`${table}.delete`, `DELETE FROM ${table} WHERE ${keyColumn} = $1`, [this.#key(id)]);
  }
}

export class PostgresOfflineSessionStore implements OfflineSessionStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(userId: string, connectorId: string): Promise<OfflineSession | undefined> {
    const { rows } = await this.#db.query(
      'offlineSessions.get',
      'SELECT record FROM gatehouse_offline_sessions WHERE user_id = $1 AND connector_id = $2',
      [userId, connectorId],
    );
    return rows[0] && (JSON.parse(rows[0].record as string) as OfflineSession);
  }

  async upsert(session: OfflineSession): Promise<void> {
    requireId(session.userId, 'offline session userId');
    requireId(session.connectorId, 'offline session connectorId');
    await this.#db.query(
      'offlineSessions.upsert',
      `INSERT INTO gatehouse_offline_sessions (user_id, connector_id, record) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, connector_id) DO UPDATE SET record = excluded.record`,
      [session.userId, session.connectorId, encodeJSON(session, 'offline session')],
    );
  }

  async delete(userId: string, connectorId: string): Promise<void> {
    await this.#db.query(
      'offlineSessions.delete',
      'DELETE FROM gatehouse_offline_sessions WHERE user_id = $1 AND connector_id = $2',
      [userId, connectorId],
    );
  }
}
