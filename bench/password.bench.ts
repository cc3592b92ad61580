// Password logins against the machine's bcrypt ceiling, measured in the same run:
//   baseline: raw bcrypt verifications/s on ALL cores (one worker thread per core, verifySync in a loop, no HTTP),
//             measured before and after each figure it is the baseline of (the mean of the two)
//   1. password grants/s at 16 and 32 in flight                                     target ≥ 0.8× the baseline
//   2. full browser-less logins/s at 16 in flight (/auth → password form → code → /token)   target ≥ 0.8×
//   3. refresh-grant p99 while 32 password grants are in flight vs idle              target ≤ 2×
//   4. replicas: 2 issuer processes on one SQLite file behind a round-robin client vs 1 (password grants, refreshes)
// Each issuer runs in its own child process (SQLite store in a temp dir), so the load generator never shares its
// event loop. Run: ./pnpmw bench password   (BENCH_SECONDS, default 4, sets each measurement's length)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { hashSync, verifySync } from '@node-rs/bcrypt';
import { SqliteStore } from '@gatehouse/storage';
import { startIssuer } from '@gatehouse/issuer';
import { browse, CookieJar, formAction, testIssuerConfig, testOAuth2, TEST_CLIENT } from '@gatehouse/issuer/testing';
import { getFreePort, waitForPort } from '@gatehouse/testkit/ports';
import { report } from './report.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const PASSWORD = 'bench password, cost 10';
const EMAIL = 'bench@example.com';
const REDIRECT = TEST_CLIENT.redirectURIs[0]!;
const BASIC = `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`;
const CORES = availableParallelism();

// ---- baseline: bcrypt on every core ------------------------------------------------------------------------
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { verifySync } = require(workerData.module);
const end = Date.now() + workerData.ms;
let n = 0;
while (Date.now() < end) { if (!verifySync(workerData.password, workerData.hash)) throw new Error('mismatch'); n++; }
parentPort.postMessage(n);
`;

async function bcryptCeiling(hash: string): Promise<number> {
  const module = fileURLToPath(import.meta.resolve('@node-rs/bcrypt'));
  verifySync(PASSWORD, hash);
  const t0 = performance.now();
  const counts = await Promise.all(
    Array.from(
      { length: CORES },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(WORKER, {
            eval: true,
            workerData: { module, password: PASSWORD, hash, ms: SECONDS * 1000 },
          });
          w.once('message', resolve).once('error', reject);
        }),
    ),
  );
  return (counts.reduce((a, b) => a + b, 0) / (performance.now() - t0)) * 1000;
}

// ---- load --------------------------------------------------------------------------------------------------
/** Runs `task` with `concurrency` in flight for `seconds`; ops/s and latencies (ms). */
async function load(
  concurrency: number,
  seconds: number,
  task: (worker: number) => Promise<void>,
): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const s = performance.now();
        await task(w);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { rate: (latencies.length / (performance.now() - t0)) * 1000, latencies };
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;

async function token(base: string, form: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json()) as Record<string, string>;
  if (res.status !== 200)
    throw new Error(`token endpoint ${res.status}: ${body.error} ${body.error_description ?? ''}`);
  return body;
}

const passwordGrant = (base: string) =>
  token(base, { grant_type: 'password', username: EMAIL, password: PASSWORD, scope: 'openid email offline_access' });

async function browserlessLogin(base: string): Promise<void> {
  const q = new URLSearchParams({
    client_id: TEST_CLIENT.id,
    response_type: 'code',
    scope: 'openid email',
    redirect_uri: REDIRECT,
    state: 'bench-state',
    nonce: 'n',
  });
  const jar = new CookieJar();
  const form = await browse(jar, `${base}/auth?${q}`);
  if (!form.body.includes('name="password"')) throw new Error(`no password form: ${form.status}`);
  const done = await browse(jar, formAction(form), { form: { login: EMAIL, password: PASSWORD }, stopAt: REDIRECT });
  const code = done.location ? new URL(done.location).searchParams.get('code') : null;
  if (!code) throw new Error(`password login failed: ${done.status}`);
  await token(base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
}

// ---- issuer children ---------------------------------------------------------------------------------------
const children: ChildProcess[] = [];
async function issuer(db: string, hash: string, port?: number): Promise<string> {
  const p = port ?? (await getFreePort());
  const c = spawn(process.execPath, [fileURLToPath(import.meta.url), 'issuer', String(p), db], {
    stdio: ['pipe', 'ignore', 'inherit'],
    env: { ...process.env, BENCH_HASH: hash },
  });
  children.push(c);
  await waitForPort(p, '127.0.0.1', 30_000);
  return `http://127.0.0.1:${p}/dex`;
}
async function stopAll(): Promise<void> {
  for (const c of children.splice(0)) {
    c.kill('SIGTERM');
    if (c.exitCode === null) await new Promise((r) => c.once('exit', r));
  }
}

/** `concurrency` refresh chains (rotation on: each grant returns the next token), spread round-robin over `bases`. */
async function refreshChains(bases: string[], concurrency: number): Promise<(w: number) => Promise<void>> {
  const chains = await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => (await passwordGrant(bases[w % bases.length]!)).refresh_token!),
  );
  return async (w) => {
    chains[w] = (
      await token(bases[w % bases.length]!, { grant_type: 'refresh_token', refresh_token: chains[w]! })
    ).refresh_token!;
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-password-'));
  const hash = hashSync(PASSWORD, 10);
  const rows: Array<{ name: string; value: number; unit: string; baseline?: string; ratio?: number; target?: string }> =
    [];
  try {
    const base = await issuer(join(dir, 'one.db'), hash);
    await load(4, 1, () => passwordGrant(base).then(() => undefined)); // warm-up: JIT, keys, prepared statements
    // The machine is shared: each figure is set against the ceiling measured just before and just after it.
    const ceilings = [await bcryptCeiling(hash)];
    const around = async (fn: () => Promise<{ rate: number; latencies: number[] }>) => {
      const r = await fn();
      ceilings.push(await bcryptCeiling(hash));
      return { ...r, ceiling: (ceilings.at(-1)! + ceilings.at(-2)!) / 2 };
    };
    const grants16 = await around(() => load(16, SECONDS, () => passwordGrant(base).then(() => undefined)));
    const grants32 = await around(() => load(32, SECONDS, () => passwordGrant(base).then(() => undefined)));
    const logins = await around(() => load(16, SECONDS, () => browserlessLogin(base)));
    const ceiling = ceilings.reduce((a, b) => a + b, 0) / ceilings.length;

    // Refresh latency, 4 in flight: idle, then with 32 password grants running in the same process.
    const refresh = await refreshChains([base], 4);
    await load(4, 1, refresh);
    const idle = await load(4, SECONDS, refresh);
    let storm = true;
    const background = load(32, SECONDS + 2, async () => {
      if (storm) await passwordGrant(base);
    });
    await new Promise((r) => setTimeout(r, 500)); // let the 32 fill the pool
    const busy = await load(4, SECONDS, refresh);
    storm = false;
    await background;
    await stopAll();

    // Replicas: the same SQLite file, one process vs two, the client alternating between them as a Service would.
    const replica = async (n: number, db: string) => {
      const bases: string[] = [];
      for (let i = 0; i < n; i++) bases.push(await issuer(db, hash));
      await load(4, 1, (w) => passwordGrant(bases[w % n]!).then(() => undefined));
      const grants = await load(32, SECONDS, (w) => passwordGrant(bases[w % n]!).then(() => undefined));
      const chains = await refreshChains(bases, 32);
      await load(32, 1, chains);
      const refreshes = await load(32, SECONDS, chains);
      await stopAll();
      return { grants: grants.rate, refreshes: refreshes.rate };
    };
    const one = await replica(1, join(dir, 'r1.db'));
    const two = await replica(2, join(dir, 'r2.db'));

    const c = `bcrypt cost 10 on ${CORES} cores`;
    rows.push({
      name: `raw bcrypt verifications, ${CORES} worker threads, mean of ${ceilings.length} (baseline)`,
      value: ceiling,
      unit: 'ops/s',
    });
    rows.push({
      name: 'password grants, 16 in flight',
      value: grants16.rate,
      unit: 'ops/s',
      baseline: c,
      ratio: grants16.rate / grants16.ceiling,
      target: '≥ 0.8',
    });
    rows.push({
      name: 'password grants, 32 in flight',
      value: grants32.rate,
      unit: 'ops/s',
      baseline: c,
      ratio: grants32.rate / grants32.ceiling,
      target: '≥ 0.8',
    });
    rows.push({
      name: 'browser-less logins (form + code exchange), 16 in flight',
      value: logins.rate,
      unit: 'ops/s',
      baseline: c,
      ratio: logins.rate / logins.ceiling,
      target: '≥ 0.8',
    });
    rows.push({ name: 'refresh grant p99, idle (baseline)', value: pct(idle.latencies, 99), unit: 'ms' });
    rows.push({
      name: 'refresh grant p99, 32 password grants in flight',
      value: pct(busy.latencies, 99),
      unit: 'ms',
      baseline: 'idle p99',
      ratio: pct(busy.latencies, 99) / pct(idle.latencies, 99),
      target: '≤ 2',
    });
    rows.push({ name: 'password grants, 1 replica (baseline)', value: one.grants, unit: 'ops/s' });
    rows.push({
      name: 'password grants, 2 replicas on one SQLite file',
      value: two.grants,
      unit: 'ops/s',
      baseline: '1 replica',
      ratio: two.grants / one.grants,
    });
    rows.push({ name: 'refresh grants, 1 replica (baseline)', value: one.refreshes, unit: 'ops/s' });
    rows.push({
      name: 'refresh grants, 2 replicas on one SQLite file',
      value: two.refreshes,
      unit: 'ops/s',
      baseline: '1 replica',
      ratio: two.refreshes / one.refreshes,
    });
    console.log(
      `${SECONDS} s per measurement, ${CORES} cores, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}, password grant p50 at 32 in flight ${pct(grants32.latencies, 50).toFixed(0)} ms`,
    );
    for (const r of rows)
      console.log(
        `  ${r.name.padEnd(62)} ${r.value.toFixed(1).padStart(9)} ${r.unit.padEnd(5)} ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× ${r.baseline} (target ${r.target ?? '—'})`}`,
      );
    report('password', rows);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- child role: one issuer on a SQLite file ---------------------------------------------------------------
if (process.argv[2] === 'issuer') {
  const port = Number(process.argv[3]);
  const store = new SqliteStore(process.argv[4]!);
  const config = testIssuerConfig(port, {
    connectors: [],
    overrides: {
      enablePasswordDB: true,
      staticPasswords: [
        {
          email: EMAIL,
          hash: process.env.BENCH_HASH!,
          username: 'bench',
          userID: 'bench-0001',
          emailVerified: true,
          groups: [],
        },
      ],
      oauth2: testOAuth2({
        grantTypes: ['authorization_code', 'refresh_token', 'password'],
        passwordConnector: 'local',
      }),
    },
  });
  // One user from one address: the throttle's in-flight reservations would cap the load at 5, not bcrypt.
  const running = await startIssuer({
    config,
    store,
    throttle: { maxPerUser: 1e6, maxPerUserTotal: 1e6, maxPerAddress: 1e6 },
  });
  const stop = async () => {
    await running.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdin
    .on('end', () => void stop())
    .on('error', () => void stop())
    .resume();
} else {
  await main();
}
