// The CRD store on a real kube-apiserver + etcd (started here, like the tests): API round-trips
// per authorization-code exchange and refresh (store sequences and the real issuer), and
// exchanges per second (store sequences, and POST /token through the issuer) next to the memory
// and SQLite stores measured in the same run. Run: ./pnpmw bench kubernetes
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore, SqliteStore, type Store } from '@gatehouse/storage';
import { openKubernetesStore, type KubernetesStore } from '@gatehouse/storage-kubernetes';
import { KubeToolMissingError, startKubeApiServer, type KubeCluster } from '@gatehouse/testkit/kube';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startIssuer } from '@gatehouse/issuer';
import { CookieJar, login, TEST_CLIENT, testIssuerConfig } from '@gatehouse/issuer/testing';
import { createHash } from 'node:crypto';
import { report, type Figure } from './report.ts';

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 3000);
const CONCURRENCY = 8;
/** Codes redeemed per issuer throughput figure (each needs a full login first). */
const ISSUER_CODES = Number(process.env.BENCH_ISSUER_CODES ?? 60);
const CRD_DIR = fileURLToPath(new URL('../deploy/crds/', import.meta.url));

import { codePayload, id, tokenPayload } from './payloads.ts';

interface Sequence {
  name: string;
  run(store: Store, code: string, grantId: string): Promise<void>;
}

/** What oidc-provider's token endpoint does with the store for one code (without offline_access). */
const minimal: Sequence = {
  name: 'find code, consume, AccessToken.upsert',
  async run(store, code, grantId) {
    await store.model('AuthorizationCode').find(code);
    if (!(await store.model('AuthorizationCode').consume(code))) throw new Error('consume lost with no contender');
    const at = id();
    await store.model('AccessToken').upsert(at, tokenPayload('AccessToken', at, grantId), 3600);
  },
};
/** The same sequence as bench/storage.bench.ts (with the Grant read and a refresh token). */
const full: Sequence = {
  name: '+ Grant.find, RefreshToken.upsert',
  async run(store, code, grantId) {
    await store.model('AuthorizationCode').find(code);
    await store.model('Grant').find(grantId);
    if (!(await store.model('AuthorizationCode').consume(code))) throw new Error('consume lost with no contender');
    const at = id();
    await store.model('AccessToken').upsert(at, tokenPayload('AccessToken', at, grantId), 3600);
    const rt = id();
    await store.model('RefreshToken').upsert(rt, tokenPayload('RefreshToken', rt, grantId), 86400);
  },
};

/** Exchanges per second with `concurrency` in flight, measured for at least MIN_MS. */
async function throughput(store: Store, seq: Sequence, concurrency: number, batch: number): Promise<number> {
  const grantId = id();
  await store.model('Grant').upsert(grantId, { jti: grantId, accountId: 'a', clientId: 'example-app' }, 86400);
  let ops = 0;
  let ms = 0;
  for (let round = 0; ms < MIN_MS || round < 2; round++) {
    const codes = Array.from({ length: batch }, () => id());
    for (let i = 0; i < codes.length; i += 50) {
      await Promise.all(
        codes.slice(i, i + 50).map((c) => store.model('AuthorizationCode').upsert(c, codePayload(c, grantId), 600)),
      );
    }
    let next = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < codes.length) await seq.run(store, codes[next++]!, grantId);
      }),
    );
    if (round > 0) {
      // round 0 is the warm-up
      ms += Number(process.hrtime.bigint() - start) / 1e6;
      ops += codes.length;
    }
  }
  return (ops / ms) * 1000;
}

async function roundTrips(store: KubernetesStore, seq: Sequence, coldConsume: boolean): Promise<number> {
  const grantId = id();
  await store.model('Grant').upsert(grantId, { jti: grantId }, 86400);
  const code = id();
  await store.model('AuthorizationCode').upsert(code, codePayload(code, grantId), 600);
  // A cold cache: the code was written by another replica.
  const reader = coldConsume
    ? await openKubernetesStore({ inCluster: false, kubeConfigFile: kube!.kubeconfigPath })
    : store;
  const before = reader.requestCount;
  await seq.run(reader, code, grantId);
  const count = reader.requestCount - before;
  if (reader !== store) await reader.close();
  return count;
}

const BASIC = `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`;
const REDIRECT = TEST_CLIENT.redirectURIs[0]!;

/** A code from a full mockCallback login, with its PKCE verifier. */
async function loginForCode(issuerURL: string, scope: string): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${issuerURL}/auth`);
  auth.search = new URLSearchParams({
    client_id: TEST_CLIENT.id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope,
    state: id(),
    nonce: id(),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const done = await login(new CookieJar(), auth.toString(), { stopAt: REDIRECT });
  return { code: new URL(done.location!).searchParams.get('code')!, verifier };
}

async function token(issuerURL: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(`${issuerURL}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC },
    body: new URLSearchParams(form),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}
const redeem = (issuerURL: string, c: { code: string; verifier: string }) =>
  token(issuerURL, {
    grant_type: 'authorization_code',
    code: c.code,
    redirect_uri: REDIRECT,
    code_verifier: c.verifier,
  });

/** API requests the real issuer makes for one login and each kind of /token call. */
async function issuerRoundTrips(store: KubernetesStore): Promise<Record<string, string>> {
  const port = await getFreePort();
  const issuer = await startIssuer({ config: testIssuerConfig(port), store, keyCheckInterval: 3600 });
  try {
    const counted = async <T>(fn: () => Promise<T>): Promise<[T, string]> => {
      const before = new Map(store.requestCountsByResource);
      const total = store.requestCount;
      const result = await fn();
      const by = [...store.requestCountsByResource]
        .map(([resource, n]) => [resource, n - (before.get(resource) ?? 0)] as const)
        .filter(([, n]) => n > 0)
        .map(([resource, n]) => `${resource} ${n}`);
      return [result, `${store.requestCount - total} (${by.join(', ')})`];
    };
    const [online, loginRequests] = await counted(() => loginForCode(issuer.issuerURL, 'openid email'));
    const [, onlineExchange] = await counted(() => redeem(issuer.issuerURL, online));
    const offline = await loginForCode(issuer.issuerURL, 'openid email offline_access');
    const [tokens, offlineExchange] = await counted(() => redeem(issuer.issuerURL, offline));
    const [, refresh] = await counted(() =>
      token(issuer.issuerURL, { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) }),
    );
    return {
      login: loginRequests,
      'code (openid email)': onlineExchange,
      'code (+ offline_access)': offlineExchange,
      refresh,
    };
  } finally {
    await issuer.close();
  }
}

/** POST /token code exchanges per second through the real issuer (logins done beforehand, not timed). */
async function issuerThroughput(store: Store, codes: number, concurrency: number): Promise<number> {
  const port = await getFreePort();
  const issuer = await startIssuer({ config: testIssuerConfig(port), store, keyCheckInterval: 3600 });
  try {
    const ready: Array<{ code: string; verifier: string }> = [];
    for (let i = 0; i < codes; i += 4) {
      ready.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(4, codes - i) }, () => loginForCode(issuer.issuerURL, 'openid email')),
        )),
      );
    }
    await redeem(issuer.issuerURL, ready.pop()!); // warm-up
    let next = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ready.length) await redeem(issuer.issuerURL, ready[next++]!);
      }),
    );
    return (ready.length / (Number(process.hrtime.bigint() - start) / 1e6)) * 1000;
  } finally {
    await issuer.close();
  }
}

let kube: KubeCluster | undefined;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-kube-'));
try {
  try {
    kube = await startKubeApiServer({ log: (line) => console.log(`[kube] ${line}`) });
  } catch (error) {
    if (error instanceof KubeToolMissingError) {
      console.log(`kubernetes bench skipped: ${error.message}`);
      process.exit(0);
    }
    throw error;
  }
  const applied = await kube.kubectl(['apply', '-f', CRD_DIR]);
  if (applied.code !== 0) throw new Error(applied.stderr);
  await kube.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', CRD_DIR]);
  const k8s = await openKubernetesStore({ inCluster: false, kubeConfigFile: kube.kubeconfigPath });

  const out: Figure[] = [];
  console.log('API requests per code exchange (Kubernetes store; counted on the client):');
  for (const seq of [minimal, full]) {
    const warm = await roundTrips(k8s, seq, false);
    const cold = await roundTrips(k8s, seq, true);
    console.log(`  ${seq.name.padEnd(42)} ${warm} (code read by this replica) / ${cold} (written by another replica)`);
    out.push(
      { name: `API requests, ${seq.name}, code read by this replica`, value: warm, unit: 'req' },
      { name: `API requests, ${seq.name}, code written by another replica`, value: cold, unit: 'req' },
    );
  }
  const real = await issuerRoundTrips(k8s);
  console.log('API requests through the real issuer (oidc-provider, mockCallback connector):');
  for (const [what, n] of Object.entries(real)) {
    console.log(`  ${what.padEnd(42)} ${n}`);
    out.push({ name: `API requests, real issuer, ${what}`, value: Number.parseInt(n, 10), unit: 'req' });
  }

  const memory = new MemoryStore();
  const sqlite = new SqliteStore(join(dir, 'bench.db'));
  const stores: Array<[string, Store, number]> = [
    ['memory', memory, 1000],
    ['sqlite', sqlite, 1000],
    ['kubernetes', k8s, 100],
  ];
  const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
  console.log(`\nCode exchanges per second (each >= ${MIN_MS} ms after a warm-up round; one process)`);
  console.log(
    `${'sequence'.padEnd(50)} ${'memory'.padStart(10)} ${'sqlite'.padStart(10)} ${'kubernetes'.padStart(11)} ${'k8s/sqlite'.padStart(11)}`,
  );
  for (const seq of [minimal, full]) {
    for (const concurrency of [1, CONCURRENCY]) {
      const figures: number[] = [];
      for (const [, store, batch] of stores) figures.push(await throughput(store, seq, concurrency, batch));
      const [m, s, k] = figures as [number, number, number];
      const label = `${seq.name} (${concurrency} in flight)`;
      console.log(
        `${label.padEnd(50)} ${fmt(m).padStart(10)} ${fmt(s).padStart(10)} ${fmt(k).padStart(11)} ${(k / s).toFixed(4).padStart(11)}`,
      );
      out.push(
        { name: `store ${label}, SQLite (baseline)`, value: s, unit: 'ops/s' },
        { name: `store ${label}, Kubernetes`, value: k, unit: 'ops/s', baseline: 'SQLite', ratio: k / s },
      );
    }
  }
  console.log(`\nPOST /token (authorization_code, openid email) per second through the real issuer; logins not timed`);
  console.log(
    `${'in flight'.padEnd(50)} ${'memory'.padStart(10)} ${'sqlite'.padStart(10)} ${'kubernetes'.padStart(11)} ${'k8s/sqlite'.padStart(11)}`,
  );
  for (const concurrency of [1, CONCURRENCY]) {
    const figures: number[] = [];
    for (const [, store] of stores) figures.push(await issuerThroughput(store, ISSUER_CODES, concurrency));
    const [m, s, k] = figures as [number, number, number];
    console.log(
      `${String(concurrency).padEnd(50)} ${fmt(m).padStart(10)} ${fmt(s).padStart(10)} ${fmt(k).padStart(11)} ${(k / s).toFixed(4).padStart(11)}`,
    );
    out.push(
      { name: `POST /token code exchanges, ${concurrency} in flight, SQLite (baseline)`, value: s, unit: 'ops/s' },
      {
        name: `POST /token code exchanges, ${concurrency} in flight, Kubernetes`,
        value: k,
        unit: 'ops/s',
        baseline: 'SQLite',
        ratio: k / s,
      },
    );
  }
  report('kubernetes', out);
  await memory.close();
  await sqlite.close();
  await k8s.close();
} finally {
  await kube?.stop();
  rmSync(dir, { recursive: true, force: true });
}
