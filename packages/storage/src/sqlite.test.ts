import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { newId, runStoreConformance } from './conformance/index.ts';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from './sqlite.ts';
import { StoreError } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStoreConformance('sqlite', async () => new SqliteStore(join(dir, 'conformance.db')));

describe('SqliteStore specifics', () => {
  it('keeps data across close and reopen of the same file', async () => {
    const file = join(dir, 'reopen.db');
    const first = new SqliteStore(file);
    const id = newId();
    await first.model('RefreshToken').upsert(id, { jti: id, grantId: 'g', exp: 1 }, 600);
    expect(await first.model('RefreshToken').consume(id)).toBe(true);
    expect(await first.keys.compareAndSwap(undefined, { signing: [], retired: [], nextRotation: 1 })).toBe(true);
    await first.clients.upsert({ id: 'app', redirectURIs: ['https://app.example.com/cb'] });
    await first.passwords.upsert({ email: 'A@example.com', hash: 'h', username: 'a', userId: '1' });
    await first.offlineSessions.upsert({ userId: 'u', connectorId: 'c', updatedAt: 5 });
    await first.close();

    const second = new SqliteStore(file);
    const found = await second.model('RefreshToken').find(id);
    expect(found).toMatchObject({ jti: id, grantId: 'g' });
    expect(found?.consumed).toBeTruthy();
    expect(await second.model('RefreshToken').consume(id)).toBe(false);
    expect((await second.keys.get())?.version).toBe('1');
    expect(await second.clients.get('app')).toEqual({ id: 'app', redirectURIs: ['https://app.example.com/cb'] });
    expect((await second.passwords.get('a@example.com'))?.userId).toBe('1');
    expect(await second.offlineSessions.get('u', 'c')).toEqual({ userId: 'u', connectorId: 'c', updatedAt: 5 });
    await second.close();
  });

  it('uses WAL mode, a busy timeout and records the schema version', async () => {
    const file = join(dir, 'wal.db');
    const store = new SqliteStore(file, { busyTimeoutMs: 1234 });
    await store.model('Grant').upsert('g', { jti: 'g' }, 60);
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SQLITE_SCHEMA_VERSION }]);
      const indexes = (
        raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'oidc_models'").all() as Array<{
          name: string;
        }>
      ).map((r) => r.name);
      expect(indexes).toEqual(
        expect.arrayContaining([
          'oidc_models_grant_id',
          'oidc_models_uid',
          'oidc_models_user_code',
          'oidc_models_expires_at',
        ]),
      );
    } finally {
      raw.close();
    }
    expect(existsSync(`${file}-wal`)).toBe(true);
    await store.close();
  });

  it('serves indexed lookups from the indexes, not scans', async () => {
    const file = join(dir, 'plan.db');
    const store = new SqliteStore(file);
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      const plan = (sql: string) =>
        (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      expect(
        plan(
          "SELECT payload FROM oidc_models WHERE model = 'Session' AND uid = 'x' AND (expires_at IS NULL OR expires_at > 0)",
        ),
      ).toMatch(/USING INDEX oidc_models_uid/);
      expect(plan("SELECT payload FROM oidc_models WHERE model = 'DeviceCode' AND user_code = 'x'")).toMatch(
        /USING INDEX oidc_models_user_code/,
      );
      expect(plan("DELETE FROM oidc_models WHERE model = 'AccessToken' AND grant_id = 'x'")).toMatch(
        /USING INDEX oidc_models_grant_id/,
      );
      expect(plan('SELECT rowid FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= 5 LIMIT 500')).toMatch(
        /USING (COVERING )?INDEX oidc_models_expires_at/,
      );
    } finally {
      raw.close();
    }
  });

  it('gc deletes in pages of the configured size until none is left', async () => {
    const store = new SqliteStore(join(dir, 'gc.db'), { gcPageSize: 7 });
    for (let i = 0; i < 50; i++) await store.model('AccessToken').upsert(`expired-${i}`, { jti: `expired-${i}` }, -1);
    await store.model('AccessToken').upsert('live', { jti: 'live' }, 600);
    expect(await store.gc()).toBe(50);
    expect(await store.gc()).toBe(0);
    expect(await store.model('AccessToken').find('live')).toBeDefined();
    // gc(now) in the future removes what will have expired by then.
    expect(await store.gc(new Date(Date.now() + 601_000))).toBe(1);
    await store.close();
  });

  it('cross-process: of several processes racing to consume the same codes, exactly one wins each', async () => {
    const file = join(dir, 'race.db');
    const store = new SqliteStore(file);
    const ids = Array.from({ length: 20 }, () => newId());
    for (const id of ids) await store.model('AuthorizationCode').upsert(id, { jti: id }, 600);

    const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'consume-race.child.ts');
    const processes = 4;
    const runs = Array.from({ length: processes }, () => {
      const proc = spawn(process.execPath, [child, file, ids.join(',')], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        const check = () => out.includes('ready\n') && resolve();
        proc.stdout.on('data', check);
        proc.once('exit', (code) => reject(new Error(`child exited ${code} before ready: ${err}`)));
      });
      const done = new Promise<string[]>((resolve, reject) => {
        proc.once('exit', (code) => {
          if (code !== 0) return reject(new Error(`child exited ${code}: ${err}`));
          resolve(JSON.parse(out.split('\n').filter(Boolean).at(-1)!) as string[]);
        });
      });
      return { proc, ready, done };
    });
    try {
      await Promise.all(runs.map((r) => r.ready));
      for (const r of runs) r.proc.stdin.end('go\n');
      const won = await Promise.all(runs.map((r) => r.done));
      const all = won.flat();
      expect(all.sort()).toEqual([...ids].sort());
      for (const id of ids) expect((await store.model('AuthorizationCode').find(id))?.consumed).toBeTruthy();
    } finally {
      for (const r of runs) if (r.proc.exitCode === null) r.proc.kill();
      await store.close();
    }
  }, 60_000);

  it('a file that is not a database gives an invalid StoreError at open', () => {
    const file = join(dir, 'corrupt.db');
    writeFileSync(
      file,
      'this is not a sqlite database, just some text that is long enough to be read as a header '.repeat(20),
    );
    let error: unknown;
    try {
      new SqliteStore(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'invalid', message: expect.stringContaining(file) });
  });

  it('an unusable path gives an unavailable StoreError at open', () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    for (const file of [join(notADir, 'store.db'), join(dir, 'missing', 'store.db'), dir]) {
      let error: unknown;
      try {
        new SqliteStore(file);
      } catch (e) {
        error = e;
      }
      expect(error, file).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({
        code: 'unavailable',
        message: expect.stringContaining('cannot open SQLite store'),
      });
    }
  });

  // Root ignores file permissions, so this case can only be observed as another user.
  it.skipIf(process.getuid?.() === 0)('a read-only directory and file give a StoreError at open', () => {
    const roDir = join(dir, 'readonly');
    const file = join(roDir, 'store.db');
    mkdirSync(roDir);
    new Database(file).close();
    chmodSync(file, 0o444);
    chmodSync(roDir, 0o555);
    try {
      expect(() => new SqliteStore(file)).toThrow(StoreError);
    } finally {
      chmodSync(roDir, 0o755);
    }
  });

  it('refuses a schema newer than it knows', async () => {
    const file = join(dir, 'future.db');
    await new SqliteStore(file).close();
    const raw = new Database(file);
    raw.prepare('UPDATE schema_version SET version = ?').run(SQLITE_SCHEMA_VERSION + 1);
    raw.close();
    expect(() => new SqliteStore(file)).toThrow(
      expect.objectContaining({ code: 'invalid', message: expect.stringContaining('newer') }),
    );
  });

  it('refuses calls after close', async () => {
    const store = new SqliteStore(join(dir, 'closed.db'));
    await store.close();
    await expect(store.model('Session').findByUid('u')).rejects.toMatchObject({ code: 'unavailable' });
    await expect(store.gc()).rejects.toBeInstanceOf(StoreError);
  });

  it('stores no bearer token: ids are SHA-256 keys, jti is not in the payload, lookups still work', async () => {
    const file = join(dir, 'hashed.db');
    const store = new SqliteStore(file);
    const token = `secret-refresh-${newId()}`;
    const code = `secret-code-${newId()}`;
    await store.model('RefreshToken').upsert(token, { jti: token, kind: 'RefreshToken', grantId: 'g1', exp: 1 }, 600);
    await store.model('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId: 'g1' }, 600);
    expect(await store.model('RefreshToken').find(token)).toMatchObject({ jti: token, grantId: 'g1' });
    expect(await store.model('AuthorizationCode').consume(code)).toBe(true);
    expect((await store.model('AuthorizationCode').find(code))?.jti).toBe(code);
    await store.close();

    const raw = new Database(file, { readonly: true });
    try {
      const rows = raw.prepare('SELECT id, payload FROM oidc_models').all() as Array<{ id: string; payload: string }>;
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(row.payload).not.toContain(token);
        expect(row.payload).not.toContain(code);
      }
    } finally {
      raw.close();
    }
    const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    expect(bytes.includes(token)).toBe(false);
    expect(bytes.includes(code)).toBe(false);

    const again = new SqliteStore(file);
    await again.model('RefreshToken').destroy(token);
    expect(await again.model('RefreshToken').find(token)).toBeUndefined();
    await again.close();
  });

  it.skipIf(process.platform === 'win32')(
    'creates the database, -wal and -shm files readable by the owner only',
    async () => {
      const file = join(dir, 'private.db');
      const store = new SqliteStore(file);
      await store.model('AccessToken').upsert('t', { jti: 't' }, 60);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        expect(existsSync(f), f).toBe(true);
        expect(statSync(f).mode & 0o777, f).toBe(0o600);
      }
      await store.close();
      // An existing file readable by others is tightened at open.
      chmodSync(file, 0o644);
      await new SqliteStore(file).close();
      expect(statSync(file).mode & 0o777).toBe(0o600);
    },
  );

  it('migrates a version-1 file: ids are rehashed and jti removed, tokens still found', async () => {
    const file = join(dir, 'v1.db');
    const raw = new Database(file);
    raw.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
      CREATE TABLE oidc_models (model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL, grant_id TEXT, uid TEXT,
        user_code TEXT, expires_at INTEGER, consumed_at INTEGER, PRIMARY KEY (model, id));
      CREATE TABLE signing_keys (id INTEGER PRIMARY KEY CHECK (id = 1), keys TEXT NOT NULL, version INTEGER NOT NULL);
      CREATE TABLE clients (id TEXT PRIMARY KEY, record TEXT NOT NULL);
      CREATE TABLE connectors (id TEXT PRIMARY KEY, record TEXT NOT NULL);
      CREATE TABLE passwords (email TEXT PRIMARY KEY, record TEXT NOT NULL);
      CREATE TABLE offline_sessions (user_id TEXT NOT NULL, connector_id TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (user_id, connector_id));`);
    raw
      .prepare('INSERT INTO oidc_models (model, id, payload, grant_id, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(
        'RefreshToken',
        'old-plain-token',
        JSON.stringify({ jti: 'old-plain-token', grantId: 'g' }),
        'g',
        Date.now() + 60_000,
      );
    raw
      .prepare('INSERT INTO oidc_models (model, id, payload, uid, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run('Session', 'sess-id', JSON.stringify({ jti: 'sess-id', uid: 'u1' }), 'u1', Date.now() + 60_000);
    raw.close();

    const store = new SqliteStore(file);
    expect(await store.model('RefreshToken').find('old-plain-token')).toMatchObject({
      jti: 'old-plain-token',
      grantId: 'g',
    });
    expect((await store.model('Session').findByUid('u1'))?.jti).toBe('sess-id');
    await store.close();
    const check = new Database(file, { readonly: true });
    try {
      expect(check.prepare('SELECT version FROM schema_version').get()).toEqual({ version: SQLITE_SCHEMA_VERSION });
      const row = check.prepare("SELECT id, payload FROM oidc_models WHERE model = 'RefreshToken'").get() as {
        id: string;
        payload: string;
      };
      expect(row.id).not.toBe('old-plain-token');
      expect(row.payload).not.toContain('old-plain-token');
    } finally {
      check.close();
    }
    // The rewritten rows' old bytes were zeroed (secure_delete), not left in free pages.
    const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    expect(bytes.includes('old-plain-token')).toBe(false);
  });
});
