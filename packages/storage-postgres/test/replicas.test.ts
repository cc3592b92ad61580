/**
 * Replicas in processes of their own on one database: the schema migration raced by six starting
 * replicas is applied exactly once (the advisory lock), and of every code consumed by four
 * processes at once (20 codes, each walked in its own order) exactly one process wins it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@gatehouse/storage/conformance';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import { openPostgresStore, POSTGRES_SCHEMA_VERSION, type PostgresStoreConfig } from '../src/index.ts';
import { freshConfig } from './pg-env.ts';

const CHILD = fileURLToPath(new URL('./race.child.ts', import.meta.url));

/** Starts `n` children, waits until every one is connected, then releases them at once. */
async function race<T>(n: number, config: PostgresStoreConfig, args: string[]): Promise<T[]> {
  const runs = Array.from({ length: n }, () => {
    const proc = spawn(process.execPath, [CHILD, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, GATEHOUSE_PG_CONFIG: JSON.stringify(config) },
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    const ready = new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', () => out.includes('ready\n') && resolve());
      void exited.then((code) => reject(new Error(`child exited ${code} before ready: ${err}`)));
    });
    const done = exited.then((code) => {
      if (code !== 0) throw new Error(`child exited ${code}: ${err}`);
      return JSON.parse(out.split('\n').filter(Boolean).at(-1)!) as T;
    });
    return { proc, ready, done };
  });
  try {
    await Promise.all(runs.map((r) => r.ready));
    for (const r of runs) r.proc.stdin.end('go\n');
    return await Promise.all(runs.map((r) => r.done));
  } finally {
    for (const r of runs) if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
  }
}

describe('replicas in separate processes on one database', () => {
  let server: Postgres;

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('six replicas starting at once on an empty database: the schema is migrated exactly once, every one starts', async () => {
    for (let round = 0; round < 3; round++) {
      const config = await freshConfig(server);
      const applied = await race<number[]>(6, config, ['migrate']);
      const all = Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1);
      expect(applied.filter((a) => a.length > 0)).toEqual([all]);
      expect(applied.filter((a) => a.length === 0)).toHaveLength(5);
      const rows = await server.query(
        'SELECT version FROM gatehouse_schema_migrations ORDER BY version',
        config.database,
      );
      expect(rows.map((r) => r.version)).toEqual(all);
    }
  }, 120_000);

  it('of 20 codes consumed by four processes at once, each code is won by exactly one', async () => {
    const config = await freshConfig(server);
    const store = await openPostgresStore(config);
    try {
      const ids = Array.from({ length: 20 }, () => newId());
      for (const id of ids) await store.model('AuthorizationCode').upsert(id, { jti: id }, 600);
      const won = await race<string[]>(4, config, ['consume', ids.join(',')]);
      expect(won.flat().sort()).toEqual([...ids].sort());
      for (const id of ids) expect((await store.model('AuthorizationCode').find(id))?.consumed).toBeTruthy();
    } finally {
      await store.close();
    }
  }, 120_000);
});
