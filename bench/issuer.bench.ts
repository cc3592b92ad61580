// Issuer throughput, each figure next to a baseline measured in the same run:
// - refresh_token grants per second (RS256 and ES256 ID tokens) vs raw jose signatures per second
//   with the same algorithm (the signing ceiling);
// - authorization-code exchanges per second on the SQLite and PostgreSQL stores vs the memory store
//   (PostgreSQL: a local server from @gatehouse/testkit/postgres, fsync on, synchronous_commit off as
//   SQLite's synchronous=NORMAL; one issuer process);
// - the same exchanges with 1 and 2 `gatehouse serve` processes sharing one SQLite file or one
//   PostgreSQL database (codes from the first, exchanges spread over both; on this machine the
//   processes, the database and the load share the same cores, so 2 vs 1 shows the cost of sharing).
// Load is generated in-process with fetch at a fixed concurrency and a bounded number of requests.
// Run: ./pnpmw bench issuer   (BENCH_REQUESTS, BENCH_CONCURRENCY to tune)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { MemoryStore, SqliteStore, type Store } from '@gatehouse/storage';
import { openPostgresStore } from '@gatehouse/storage-postgres';
import { startPostgres } from '@gatehouse/testkit/postgres';
import { startIssuer, type RunningIssuer } from '@gatehouse/issuer';
import {
  browse,
  CookieJar,
  loginForCode,
  startIssuerProcess,
  testIssuerConfig,
  tokenRequest,
  TEST_CLIENT,
  type CodeClient,
  type IssuerProcess,
} from '@gatehouse/issuer/testing';
import { getFreePort } from '@gatehouse/testkit/ports';
import { report, type Figure } from './report.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const CODES = Number(process.env.BENCH_CODES ?? 320);
const REDIRECT = TEST_CLIENT.redirectURIs[0]!;
const VERIFIER = 'bench-verifier-0123456789-0123456789-0123456789';
const CHALLENGE = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(VERIFIER))).toString(
  'base64url',
);
const BASIC = `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`;

type Alg = 'RS256' | 'ES256';

async function start(alg: Alg, store: Store): Promise<RunningIssuer> {
  const port = await getFreePort();
  return startIssuer({
    config: testIssuerConfig(port, { overrides: { signer: { algorithms: [alg] } } }),
    store,
  });
}

/** `n` tasks, `concurrency` at a time; returns ops/s over the whole run. */
async function pool(
  n: number,
  concurrency: number,
  task: (i: number, worker: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        await task(i, worker);
      }
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

async function code(issuer: RunningIssuer, scope: string): Promise<string> {
  const q = new URLSearchParams({
    client_id: TEST_CLIENT.id,
    response_type: 'code',
    scope,
    redirect_uri: REDIRECT,
    state: 'bench-state',
    nonce: 'bench-nonce',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  });
  const r = await browse(new CookieJar(), `${issuer.issuerURL}/auth?${q}`, { stopAt: REDIRECT });
  const c = r.location ? new URL(r.location).searchParams.get('code') : null;
  if (!c) throw new Error(`login failed: ${r.status}`);
  return c;
}

async function token(issuer: RunningIssuer, form: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(`${issuer.issuerURL}/token`, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json()) as Record<string, string>;
  if (res.status !== 200) throw new Error(`token endpoint ${res.status}: ${body.error}`);
  return body;
}

const exchange = (issuer: RunningIssuer, c: string) =>
  token(issuer, { grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: VERIFIER });

async function refreshRate(alg: Alg): Promise<number> {
  const store = new MemoryStore();
  const issuer = await start(alg, store);
  try {
    // One refresh-token chain per worker (rotation is on: each grant returns the next token).
    const chains: string[] = [];
    for (let w = 0; w < CONCURRENCY; w++)
      chains.push((await exchange(issuer, await code(issuer, 'openid email offline_access'))).refresh_token!);
    const step = async (_i: number, w: number) => {
      const r = await token(issuer, { grant_type: 'refresh_token', refresh_token: chains[w]! });
      chains[w] = r.refresh_token!;
    };
    await pool(CONCURRENCY * 2, CONCURRENCY, step); // warm-up
    return await pool(REQUESTS, CONCURRENCY, step);
  } finally {
    await issuer.close();
    await store.close();
  }
}

async function signRate(alg: Alg): Promise<number> {
  const { privateKey } = await generateKeyPair(alg);
  const sign = async () => {
    await new SignJWT({
      sub: 'CgVhbGljZRIEbG9jYWw',
      email: 'alice@example.com',
      email_verified: true,
      name: 'alice',
      nonce: 'n',
    })
      .setProtectedHeader({ alg, kid: 'k' })
      .setIssuer('http://127.0.0.1/dex')
      .setAudience('test-client')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
  };
  await pool(CONCURRENCY * 2, CONCURRENCY, sign);
  return pool(REQUESTS, CONCURRENCY, sign);
}

async function exchangeRate(store: Store): Promise<number> {
  const issuer = await start('ES256', store);
  try {
    const codes: string[] = [];
    await pool(CODES + CONCURRENCY, 8, async () => {
      codes.push(await code(issuer, 'openid email'));
    });
    const warm = codes.splice(0, CONCURRENCY);
    await pool(warm.length, CONCURRENCY, (i) => exchange(issuer, warm[i]!).then(() => undefined));
    return await pool(codes.length, CONCURRENCY, (i) => exchange(issuer, codes[i]!).then(() => undefined));
  } finally {
    await issuer.close();
  }
}

const PROCESS_CLIENT: CodeClient = {
  id: 'bench-app',
  secret: 'bench-app-secret-that-is-long-enough',
  redirect: 'http://127.0.0.1:9/bench/cb',
};

function processYAML(port: number, storage: string): string {
  return `issuer: http://127.0.0.1:${port}/dex
storage:
${storage}
web:
  http: 127.0.0.1:${port}
oauth2:
  skipApprovalScreen: true
staticClients:
  - id: ${PROCESS_CLIENT.id}
    secret: ${PROCESS_CLIENT.secret}
    name: Bench
    redirectURIs: ['${PROCESS_CLIENT.redirect}']
connectors:
  - type: mockCallback
    id: mock
    name: Mock
logger:
  level: error
`;
}

/** Code exchanges/s with `n` `gatehouse serve` processes on one store (`storage` YAML). */
async function processRate(storage: string, n: number, dir: string): Promise<number> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await getFreePort());
  const file = join(dir, `processes-${n}-${ports[0]}.yaml`);
  writeFileSync(file, processYAML(ports[0]!, storage));
  const processes: IssuerProcess[] = [];
  try {
    for (let i = 0; i < n; i++)
      processes.push(
        await startIssuerProcess(file, ports[i]!, {
          cwd: dir,
          args: i === 0 ? [] : [`--web-http-addr=127.0.0.1:${ports[i]}`],
        }),
      );
    const issuerURL = `http://127.0.0.1:${ports[0]}/dex`;
    const codes: Array<{ code: string; verifier: string }> = [];
    await pool(CODES + CONCURRENCY, 8, async () => {
      codes.push(await loginForCode(issuerURL, PROCESS_CLIENT, 'openid email'));
    });
    const redeem = async (i: number, c: { code: string; verifier: string }): Promise<void> => {
      const res = await tokenRequest(`${processes[i % n]!.url}/dex/token`, PROCESS_CLIENT, {
        grant_type: 'authorization_code',
        code: c.code,
        redirect_uri: PROCESS_CLIENT.redirect,
        code_verifier: c.verifier,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`token endpoint ${res.status}`);
    };
    const warm = codes.splice(0, CONCURRENCY);
    await pool(warm.length, CONCURRENCY, (i) => redeem(i, warm[i]!));
    return await pool(codes.length, CONCURRENCY, (i) => redeem(i, codes[i]!));
  } finally {
    for (const p of processes) await p.stop();
  }
}

const rows: Array<[string, number, string]> = [];
// The machine is shared and the first HTTP runs pay for JIT warm-up: alternate the algorithms over
// ROUNDS rounds and keep each one's best run.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const algs = (process.env.BENCH_ALGS ?? 'RS256,ES256').split(',') as Alg[];
const best = new Map<string, number>();
const keep = (key: string, v: number) => best.set(key, Math.max(best.get(key) ?? 0, v));
for (let round = 0; round < ROUNDS; round++) {
  for (const alg of algs) {
    keep(`sign ${alg}`, await signRate(alg));
    keep(`refresh ${alg}`, await refreshRate(alg));
  }
}
for (const alg of algs) {
  const signs = best.get(`sign ${alg}`)!;
  const refreshes = best.get(`refresh ${alg}`)!;
  rows.push([`jose ${alg} JWT signatures (baseline)`, signs, '1.00']);
  rows.push([`refresh_token grants, ${alg} ID token`, refreshes, (refreshes / signs).toFixed(3)]);
}
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
const pgServer = await startPostgres({ settings: { fsync: 'on', synchronous_commit: 'off' } });
try {
  for (let round = 0; round < ROUNDS; round++) {
    const memoryStore = new MemoryStore();
    keep('memory', await exchangeRate(memoryStore));
    await memoryStore.close();
    const sqliteStore = new SqliteStore(join(dir, `issuer-${round}.db`));
    try {
      keep('sqlite', await exchangeRate(sqliteStore));
    } finally {
      await sqliteStore.close();
    }
    for (const n of [1, 2]) {
      keep(
        `sqlite ${n}p`,
        await processRate(`  type: sqlite3\n  config:\n    file: ${join(dir, `processes-${round}-${n}.db`)}`, n, dir),
      );
      const db = await pgServer.createDatabase('issuer_processes');
      keep(
        `postgres ${n}p`,
        await processRate(
          `  type: postgres\n  config:\n    host: ${pgServer.host}\n    port: ${pgServer.port}\n    database: ${db}\n    user: ${pgServer.user}\n    password: ${pgServer.password}\n    ssl: {mode: disable}`,
          n,
          dir,
        ),
      );
    }
    const database = await pgServer.createDatabase('issuer_bench');
    const pgStore = await openPostgresStore({
      host: pgServer.host,
      port: pgServer.port,
      user: pgServer.user,
      password: pgServer.password,
      database,
      ssl: { mode: 'disable' },
    });
    try {
      keep('postgres', await exchangeRate(pgStore));
    } finally {
      await pgStore.close();
    }
  }
} finally {
  await pgServer.stop();
  rmSync(dir, { recursive: true, force: true });
}
const memory = best.get('memory')!;
const sqlite = best.get('sqlite')!;
rows.push(['code exchanges, memory store (baseline)', memory, '1.00']);
rows.push(['code exchanges, SQLite store', sqlite, (sqlite / memory).toFixed(3)]);
const postgres = best.get('postgres')!;
rows.push(['code exchanges, PostgreSQL store', postgres, (postgres / memory).toFixed(3)]);
for (const [label, key] of [
  ['SQLite file', 'sqlite'],
  ['PostgreSQL', 'postgres'],
] as const) {
  const one = best.get(`${key} 1p`)!;
  const two = best.get(`${key} 2p`)!;
  rows.push([`code exchanges, ${label}, 1 process (baseline)`, one, '1.00']);
  rows.push([`code exchanges, ${label}, 2 processes`, two, (two / one).toFixed(3)]);
}

console.log(
  `requests per measurement: ${REQUESTS} (code exchanges: ${CODES}), concurrency ${CONCURRENCY}, best of ${ROUNDS} rounds, in-process load, Node ${process.versions.node}`,
);
console.log(`| ${'measurement'.padEnd(42)} | ${'ops/s'.padStart(8)} | ratio to baseline |`);
console.log(`| ${'-'.repeat(42)} | ${'-'.repeat(8)} | ----------------- |`);
for (const [name, rate, ratio] of rows)
  console.log(`| ${name.padEnd(42)} | ${rate.toFixed(0).padStart(8)} | ${ratio.padStart(17)} |`);
// Each measured row follows its baseline row.
let baseline = '';
report(
  'issuer',
  rows.map(([name, value, ratio]): Figure => {
    if (name.includes('(baseline)')) {
      baseline = name.replace(' (baseline)', '');
      return { name, value, unit: 'ops/s' };
    }
    return { name, value, unit: 'ops/s', baseline, ratio: Number(ratio) };
  }),
);
