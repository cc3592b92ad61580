/**
 * Versioned schema migrations, applied at start-up inside one transaction that first takes a
 * transaction-scoped advisory lock: replicas starting together queue on the lock, the first applies
 * what is missing, the others then find the schema current. PostgreSQL's DDL is transactional, so a
 * replica killed half-way leaves the previous version intact. Every table is prefixed `gatehouse_`
 * so the database can be shared (e.g. with Dex's own tables during a migration).
 */
import { StoreError } from '@gatehouse/storage';
import type pg from 'pg';

/** pg_advisory_xact_lock key of the migrations ("gatehous" as a 64-bit number). */
export const MIGRATION_LOCK = '7449362843962029427';

/** Notification channel for changes to clients and connectors (see watch.ts). */
export const CHANGES_CHANNEL = 'gatehouse_records';

/** Ordered migrations; index + 1 is the version each produces. Never edit one that has shipped. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE gatehouse_models (
    model       text    NOT NULL,
    id          text    NOT NULL,       -- SHA-256 of the oidc-provider id (base64url): ids are bearer secrets
    payload     text    NOT NULL,       -- JSON, without jti when jti is the id
    jti_is_id   boolean NOT NULL DEFAULT false,
    grant_id    text,
    uid         text,
    user_code   text,
    expires_at  bigint,                 -- epoch ms; NULL = never
    consumed_at bigint,                 -- epoch ms; NULL = not consumed
    PRIMARY KEY (model, id)
  );
  CREATE INDEX gatehouse_models_grant_id   ON gatehouse_models (model, grant_id)  WHERE grant_id  IS NOT NULL;
  CREATE INDEX gatehouse_models_uid        ON gatehouse_models (model, uid)       WHERE uid       IS NOT NULL;
  CREATE INDEX gatehouse_models_user_code  ON gatehouse_models (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX gatehouse_models_expires_at ON gatehouse_models (expires_at)       WHERE expires_at IS NOT NULL;

  CREATE TABLE gatehouse_signing_keys (
    id      integer PRIMARY KEY CHECK (id = 1),
    keys    text    NOT NULL,
    version bigint  NOT NULL
  );
  CREATE TABLE gatehouse_clients    (id    text PRIMARY KEY, record text NOT NULL);
  CREATE TABLE gatehouse_connectors (id    text PRIMARY KEY, record text NOT NULL);
  CREATE TABLE gatehouse_passwords  (email text PRIMARY KEY, record text NOT NULL);
  CREATE TABLE gatehouse_offline_sessions (
    user_id      text NOT NULL,
    connector_id text NOT NULL,
    record       text NOT NULL,
    PRIMARY KEY (user_id, connector_id)
  );

  -- Every change to clients and connectors, by any writer (a replica, psql, a migration tool), is
  -- announced on one channel with the table's name; listeners re-read that table (watch.ts).
  CREATE FUNCTION gatehouse_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('${CHANGES_CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
  END $$;
  CREATE TRIGGER gatehouse_clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gatehouse_clients
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();
  CREATE TRIGGER gatehouse_connectors_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gatehouse_connectors
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();
  `,
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema to POSTGRES_SCHEMA_VERSION; returns the versions this call applied. */
export async function migrate(client: pg.ClientBase, migrations: readonly string[] = MIGRATIONS): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS gatehouse_schema_migrations (
      version    integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM gatehouse_schema_migrations',
    );
    const current = rows[0]?.v ?? 0;
    if (current > migrations.length) {
      throw new StoreError(
        'invalid',
        `PostgreSQL schema version ${current} is newer than this Gatehouse supports (${migrations.length}); upgrade Gatehouse`,
      );
    }
    const applied: number[] = [];
    for (let version = current + 1; version <= migrations.length; version++) {
      await client.query(migrations[version - 1]!);
      // The primary key turns a second application of one version into an error, never a silent repeat.
      await client.query('INSERT INTO gatehouse_schema_migrations (version) VALUES ($1)', [version]);
      applied.push(version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
