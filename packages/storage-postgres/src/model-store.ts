/**
 * oidc-provider models in one table keyed by (model, SHA-256 of the id). `consume` is one
 * conditional UPDATE: under READ COMMITTED a second concurrent UPDATE of the row waits for the
 * first, re-checks `consumed_at IS NULL` on the committed row and matches nothing, so exactly one
 * caller (in any process) sees a changed row.
 */
import type { ModelName, ModelPayload, ModelStore } from '@gatehouse/storage';
import {
  consumedAtFrom,
  expiresAtFrom,
  indexFields,
  modelKey,
  requireId,
  restoredPayload,
  storedPayload,
} from '@gatehouse/storage/backend-rules';
import { asNumber, type Db, type Row } from './db.ts';

const LIVE = '(expires_at IS NULL OR expires_at > $3)';
const COLUMNS = 'payload, consumed_at, jti_is_id';

const SQL = {
  upsert: `
    INSERT INTO gatehouse_models (model, id, payload, jti_is_id, grant_id, uid, user_code, expires_at, consumed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (model, id) DO UPDATE SET
      payload = excluded.payload, jti_is_id = excluded.jti_is_id, grant_id = excluded.grant_id, uid = excluded.uid,
      user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
  find: `SELECT ${COLUMNS} FROM gatehouse_models WHERE model = $1 AND id = $2 AND ${LIVE}`,
  findByUid: `SELECT ${COLUMNS} FROM gatehouse_models WHERE model = $1 AND uid = $2 AND ${LIVE} ORDER BY expires_at DESC NULLS FIRST LIMIT 1`,
  findByUserCode: `SELECT ${COLUMNS} FROM gatehouse_models WHERE model = $1 AND user_code = $2 AND ${LIVE} ORDER BY expires_at DESC NULLS FIRST LIMIT 1`,
  consume: `UPDATE gatehouse_models SET consumed_at = $3 WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND ${LIVE}`,
  destroy: 'DELETE FROM gatehouse_models WHERE model = $1 AND id = $2',
  revokeByGrantId: 'DELETE FROM gatehouse_models WHERE model = $1 AND grant_id = $2',
  /** One page of expired rows; SKIP LOCKED so two replicas collecting at once do not queue on each other. */
  gcPage: `
    DELETE FROM gatehouse_models WHERE (model, id) IN (
      SELECT model, id FROM gatehouse_models WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
    AND expires_at <= $1`,
} as const;

function decode(row: Row | undefined, id: string | undefined): ModelPayload | undefined {
  if (!row) return undefined;
  return restoredPayload(row.payload as string, asNumber(row.consumed_at), row.jti_is_id === true, id);
}

export class PostgresModelStore implements ModelStore {
  readonly #model: ModelName;
  readonly #db: Db;

  constructor(model: ModelName, db: Db) {
    this.#model = model;
    this.#db = db;
  }

  async upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    requireId(id, 'id');
    const now = Date.now();
    const { json, jtiIsId } = storedPayload(this.#model, id, payload);
    const { grantId, uid, userCode } = indexFields(payload);
    await this.#db.query(`${this.#model}.upsert`, SQL.upsert, [
      this.#model,
      modelKey(id),
      json,
      jtiIsId,
      grantId ?? null,
      uid ?? null,
      userCode ?? null,
      expiresAtFrom(expiresIn, now) ?? null,
      consumedAtFrom(payload, now) ?? null,
    ]);
  }

  async find(id: string): Promise<ModelPayload | undefined> {
    if (typeof id !== 'string') return undefined;
    const { rows } = await this.#db.query(`${this.#model}.find`, SQL.find, [this.#model, modelKey(id), Date.now()]);
    return decode(rows[0], id);
  }

  async findByUid(uid: string): Promise<ModelPayload | undefined> {
    if (typeof uid !== 'string') return undefined;
    const { rows } = await this.#db.query(`${this.#model}.findByUid`, SQL.findByUid, [this.#model, uid, Date.now()]);
    return decode(rows[0], undefined);
  }

  async findByUserCode(userCode: string): Promise<ModelPayload | undefined> {
    if (typeof userCode !== 'string') return undefined;
    const { rows } = await this.#db.query(`${this.#model}.findByUserCode`, SQL.findByUserCode, [
      this.#model,
      userCode,
      Date.now(),
    ]);
    return decode(rows[0], undefined);
  }

  async consume(id: string): Promise<boolean> {
    if (typeof id !== 'string') return false;
    const { rowCount } = await this.#db.query(`${this.#model}.consume`, SQL.consume, [
      this.#model,
      modelKey(id),
      Date.now(),
    ]);
    return rowCount === 1;
  }

  async destroy(id: string): Promise<void> {
    if (typeof id !== 'string') return;
    await this.#db.query(`${this.#model}.destroy`, SQL.destroy, [this.#model, modelKey(id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (typeof grantId !== 'string') return;
    await this.#db.query(`${this.#model}.revokeByGrantId`, SQL.revokeByGrantId, [this.#model, grantId]);
  }
}

/** Deletes expired rows of every model, one page per statement, until a page comes back empty. */
export async function collectGarbage(db: Db, nowMs: number, pageSize: number): Promise<number> {
  let removed = 0;
  for (;;) {
    const { rowCount } = await db.query('gc', SQL.gcPage, [nowMs, pageSize]);
    removed += rowCount ?? 0;
    if (!rowCount) return removed;
  }
}
