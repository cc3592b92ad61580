/** What the rows hold (hashed ids, never a bearer secret), the schema version rules, pool settings and Dex's keys. */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '@gatehouse/storage';
import { modelKey } from '@gatehouse/storage/backend-rules';
import { newId } from '@gatehouse/storage/conformance';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import {
  openPostgresStore,
  poolSettings,
  POSTGRES_SCHEMA_VERSION,
  type PostgresStore,
  type PostgresStoreConfig,
} from '../src/index.ts';
import { freshConfig } from './pg-env.ts';

describe('PostgresStore on a real server', () => {
  let server: Postgres;
  let config: PostgresStoreConfig;
  let store: PostgresStore;

  beforeAll(async () => {
    server = await startPostgres();
    config = await freshConfig(server);
    store = await openPostgresStore(config);
  });

  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('keys model rows by SHA-256 of the id: no table holds a token, code or refresh token in clear', async () => {
    const [code, token, session, uid] = [newId(), newId(), newId(), newId()];
    await store.model('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId: 'g' }, 60);
    await store.model('RefreshToken').upsert(token, { jti: token, kind: 'RefreshToken' }, 60);
    await store.model('Session').upsert(session, { jti: session, uid, kind: 'Session' }, 60);
    const dump = JSON.stringify(await server.query('SELECT * FROM gatehouse_models', config.database));
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(token);
    expect(dump).toContain(modelKey(code));
    // Sessions keep jti (findByUid must return it): the session id is the cookie, and is sealed nowhere else.
    expect(dump).toContain(session);
    expect((await store.model('AuthorizationCode').find(code))?.jti).toBe(code);
    expect((await store.model('Session').findByUid(uid))?.jti).toBe(session);
  });

  it('re-opening migrates nothing; a schema newer than this code refuses to start, naming both versions', async () => {
    const again = await openPostgresStore(config);
    expect(await again.migrate()).toEqual([]);
    await again.close();
    await server.query(
      `INSERT INTO gatehouse_schema_migrations (version) VALUES (${POSTGRES_SCHEMA_VERSION + 1})`,
      config.database,
    );
    try {
      const error = await openPostgresStore(config).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({
        code: 'invalid',
        message: expect.stringContaining(`version ${POSTGRES_SCHEMA_VERSION + 1} is newer`),
      });
    } finally {
      await server.query(
        `DELETE FROM gatehouse_schema_migrations WHERE version = ${POSTGRES_SCHEMA_VERSION + 1}`,
        config.database,
      );
    }
  });

  it('a wrong password or a missing database: StoreError unavailable at open, without the password in the message', async () => {
    const wrong = await openPostgresStore({ ...config, password: 'not-the-password' }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({
      name: 'StoreError',
      code: 'unavailable',
      message: expect.stringContaining('password authentication failed'),
    });
    expect((wrong as Error).message).not.toContain('not-the-password');
    const missing = await openPostgresStore({ ...config, database: 'no_such_db' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'unavailable', message: expect.stringContaining('no_such_db') });
  });

  it("a Unix socket directory as host connects without TLS even with Dex's default ssl.mode (as libpq does)", async () => {
    const { ssl: _ssl, password: _password, host: _host, ...rest } = config;
    const viaSocket = await openPostgresStore({ ...rest, host: `${server.dir}/sockets` });
    try {
      const [row] =
        (await viaSocket.ping(),
        await server.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE client_addr IS NULL AND datname = '${config.database}' AND backend_type = 'client backend'`,
        ));
      expect(Number(row?.n)).toBeGreaterThan(0);
    } finally {
      await viaSocket.close();
    }
  });

  it('keeps at most maxIdleConns idle connections and opens at most maxOpenConns', async () => {
    const small = await openPostgresStore({ ...config, maxOpenConns: 4, maxIdleConns: 1 });
    try {
      const tasks = Array.from({ length: 40 }, () => small.model('AccessToken').find(newId()));
      await new Promise((r) => setImmediate(r));
      expect(small.poolStats.total).toBeLessThanOrEqual(4);
      await Promise.all(tasks);
      expect(small.poolStats.idle).toBeLessThanOrEqual(1);
    } finally {
      await small.close();
    }
  });
});

describe("poolSettings: Dex's keys and defaults", () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pgsettings-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("Dex's defaults: localhost:5432, verify-full, 5 connections, no lifetime; connectionTimeout 0 still bounded", () => {
    const { pool, maxIdle } = poolSettings({});
    expect(pool).toMatchObject({
      host: 'localhost',
      port: 5432,
      max: 5,
      maxLifetimeSeconds: 0,
      connectionTimeoutMillis: 10_000,
    });
    expect(pool.ssl).toMatchObject({ rejectUnauthorized: true, servername: 'localhost' });
    expect(maxIdle).toBe(5);
  });

  it('host:port in host (Dex keeps it for compatibility), a socket directory, the ssl modes', () => {
    expect(poolSettings({ host: 'db.internal:6432', ssl: { mode: 'disable' } }).pool).toMatchObject({
      host: 'db.internal',
      port: 6432,
      ssl: false,
    });
    expect(poolSettings({ host: '[::1]:6432', ssl: { mode: 'disable' } }).pool).toMatchObject({
      host: '::1',
      port: 6432,
    });
    expect(poolSettings({ host: '/run/postgresql', port: 5433, ssl: { mode: 'disable' } }).pool).toMatchObject({
      host: '/run/postgresql',
      port: 5433,
    });
    expect(poolSettings({ host: 'db', ssl: { mode: 'require' } }).pool.ssl).toEqual({ rejectUnauthorized: false });
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'PEM');
    // lib/pq (Dex's driver): require with a root CA file verifies the chain, as verify-ca.
    const requireWithCA = poolSettings({ host: 'db', ssl: { mode: 'require', caFile: ca } }).pool.ssl as Record<
      string,
      unknown
    >;
    expect(requireWithCA).toMatchObject({ ca: 'PEM', rejectUnauthorized: true });
    expect(requireWithCA.checkServerIdentity).toBeTypeOf('function');
    const full = poolSettings({ host: 'db', ssl: { mode: 'verify-full', caFile: ca } }).pool.ssl as Record<
      string,
      unknown
    >;
    expect(full).toEqual({ ca: 'PEM', rejectUnauthorized: true, servername: 'db' });
  });

  it('every problem at once, named by key, never the password', () => {
    let error: unknown;
    try {
      poolSettings({
        password: 'hunter2',
        port: 0,
        maxOpenConns: -1,
        ssl: { mode: 'prefer' as never, caFile: join(dir, 'missing.pem'), certFile: join(dir, 'c.pem') },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'invalid' });
    const message = (error as Error).message;
    for (const key of ['storage.config.port', 'storage.config.maxOpenConns', 'storage.config.ssl.mode'])
      expect(message).toContain(key);
    expect(message).not.toContain('hunter2');
  });
});
