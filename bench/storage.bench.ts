// Store throughput: the adapter-call sequence of one authorization-code exchange, and raw
// upsert/find, on the memory backend (the baseline), SQLite (a WAL file in a temp folder) and
// PostgreSQL (a local server from @gatehouse/testkit/postgres over loopback TCP, fsync on): once with
// synchronous_commit=off (what SQLite's synchronous=NORMAL in WAL mode also risks: the last
// commits on power loss, never corruption) and once with PostgreSQL's default (every commit flushed).
// Run: ./pnpmw bench storage
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, SqliteStore, type Store } from '@gatehouse/storage';
import { openPostgresStore } from '@gatehouse/storage-postgres';
import { startPostgres } from '@gatehouse/testkit/postgres';
import { report, type Figure } from './report.ts';

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1500);
const BATCH = 1000;

import { codePayload, grantPayload, id, tokenPayload } from './payloads.ts';

/** Runs `batch` (which returns how many ops it did and the ms it spent) until MIN_MS is measured. */
async function measure(batch: () => Promise<{ ops: number; ms: number }>): Promise<number> {
  await batch(); // warm-up: prepared statements, JIT
  let ops = 0;
  let ms = 0;
  while (ms < MIN_MS) {
    const r = await batch();
    ops += r.ops;
    ms += r.ms;
  }
  return (ops / ms) * 1000;
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<{ ops: number; ms: number }> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return { ops: n, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

async function bench(store: Store): Promise<Record<string, number>> {
  const grantId = id();
  await store.model('Grant').upsert(grantId, grantPayload(grantId), 86400);
  const codes = store.model('AuthorizationCode');

  const exchange = await measure(async () => {
    const ids = Array.from({ length: BATCH }, () => id());
    for (const code of ids) await codes.upsert(code, codePayload(code, grantId), 60); // setup, not timed
    return timed(BATCH, async (i) => {
      const code = ids[i]!;
      await codes.find(code);
      await store.model('Grant').find(grantId);
      if (!(await codes.consume(code))) throw new Error('consume lost with no contender');
      const at = id();
      await store.model('AccessToken').upsert(at, tokenPayload('AccessToken', at, grantId), 3600);
      const rt = id();
      await store.model('RefreshToken').upsert(rt, tokenPayload('RefreshToken', rt, grantId), 86400);
    });
  });

  const written: string[] = [];
  const upsert = await measure(() => {
    const ids = Array.from({ length: BATCH }, () => id());
    written.push(...ids);
    return timed(BATCH, (i) =>
      store.model('AccessToken').upsert(ids[i]!, tokenPayload('AccessToken', ids[i]!, grantId), 3600),
    );
  });

  const find = await measure(() =>
    timed(BATCH, async (i) => {
      const found = await store.model('AccessToken').find(written[(i * 7919) % written.length]!);
      if (!found) throw new Error('find missed a live record');
    }),
  );
  return { exchange, upsert, find };
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
try {
  const memory = new MemoryStore();
  const mem = await bench(memory);
  await memory.close();

  const sqlite = new SqliteStore(join(dir, 'bench.db'));
  const sql = await bench(sqlite);
  await sqlite.close();

  const results: Array<[string, Record<string, number>]> = [
    ['memory', mem],
    ['sqlite', sql],
  ];
  for (const [name, synchronousCommit] of [
    ['postgres', 'off'],
    ['pg sync', 'on'],
  ] as const) {
    const server = await startPostgres({ settings: { fsync: 'on', synchronous_commit: synchronousCommit } });
    try {
      const database = await server.createDatabase('bench');
      const pg = await openPostgresStore({
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
        database,
        ssl: { mode: 'disable' },
      });
      results.push([name, await bench(pg)]);
      await pg.close();
    } finally {
      await server.stop();
    }
  }

  const rows: Array<[string, string]> = [
    ['exchange', 'code exchange (find, Grant.find, consume, AT+RT upsert) /s'],
    ['upsert', 'AccessToken.upsert ops/s'],
    ['find', 'AccessToken.find ops/s'],
  ];
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(
    `Store throughput (each figure measured for >= ${MIN_MS} ms, sequential awaits, one process; pg sync = synchronous_commit on)`,
  );
  console.log(
    `${'metric'.padEnd(62)} ${results.map(([n]) => n.padStart(10)).join(' ')} ${'sqlite/memory'.padStart(14)} ${'postgres/sqlite'.padStart(16)}`,
  );
  const out: Figure[] = [];
  const names: Record<string, string> = {
    sqlite: 'SQLite',
    postgres: 'PostgreSQL',
    'pg sync': 'PostgreSQL, synchronous_commit on',
  };
  for (const [key, label] of rows) {
    const v = (name: string) => results.find(([n]) => n === name)![1][key]!;
    out.push({ name: `${label}, memory (baseline)`, value: v('memory'), unit: 'ops/s' });
    for (const [name] of results.slice(1))
      out.push({
        name: `${label}, ${names[name]}`,
        value: v(name),
        unit: 'ops/s',
        baseline: 'memory',
        ratio: v(name) / v('memory'),
      });
    console.log(
      `${label.padEnd(62)} ${results.map(([, r]) => fmt(r[key]!).padStart(10)).join(' ')} ${(v('sqlite') / v('memory')).toFixed(3).padStart(14)} ${(v('postgres') / v('sqlite')).toFixed(3).padStart(16)}`,
    );
  }
  report('storage', out);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
