/**
 * Two issuer replicas on one API server, each with its own KubernetesStore, behind a tiny
 * round-robin load balancer (one issuer URL): a login crosses replicas on every request, a code
 * raced through both replicas is redeemed once, and a rotation on one reaches the other.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startIssuer, type RunningIssuer } from '@gatehouse/issuer';
import {
  loginForCode as sharedLoginForCode,
  TEST_CLIENT,
  testIssuerConfig,
  tokenRequest,
} from '@gatehouse/issuer/testing';
import { getFreePort } from '@gatehouse/testkit/ports';
import type { KubeCluster } from '@gatehouse/testkit/kube';
import type { KubernetesStore } from '../src/index.ts';
import { MODEL_KINDS } from '../src/kinds.ts';
import { freshNamespace, kubeAvailable, openTestStore, testKube } from './kube-env.ts';

const REDIRECT = TEST_CLIENT.redirectURIs[0]!;
const b64url = (b: Buffer): string => b.toString('base64url');
const MODEL_PLURALS = new Set(Object.values(MODEL_KINDS).map((k) => k.plural));

/** API requests on oidc-provider model resources per plural while `fn` runs (keys/watch traffic left out). */
async function modelRequests<T>(
  store: KubernetesStore,
  fn: () => Promise<T>,
): Promise<{ result: T; by: Record<string, number>; total: number }> {
  const snapshot = (): Map<string, number> =>
    new Map([...store.requestCountsByResource].filter(([r]) => MODEL_PLURALS.has(r)));
  const before = snapshot();
  const result = await fn();
  const by: Record<string, number> = {};
  for (const [resource, n] of snapshot()) {
    const delta = n - (before.get(resource) ?? 0);
    if (delta > 0) by[resource] = delta;
  }
  return { result, by, total: Object.values(by).reduce((a, b) => a + b, 0) };
}

/** Forwards each request to the next backend in turn (counts which backend served what). */
function roundRobin(ports: number[]): { server: Server; served: number[] } {
  const served = ports.map(() => 0);
  let next = 0;
  const server = createServer((req, res) => {
    const i = next++ % ports.length;
    served[i]!++;
    const upstream = request(
      { host: '127.0.0.1', port: ports[i], method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(upstream);
  });
  return { server, served };
}

describe.skipIf(!kubeAvailable)('two issuer replicas sharing the Kubernetes store', () => {
  let kube: KubeCluster;
  let namespace: string;
  const stores: KubernetesStore[] = [];
  const issuers: RunningIssuer[] = [];
  let lb: { server: Server; served: number[] };
  let issuerURL: string;

  beforeAll(async () => {
    kube = await testKube();
    namespace = await freshNamespace(kube, 'issuer');
    const lbPort = await getFreePort();
    issuerURL = `http://127.0.0.1:${lbPort}/dex`;
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const store = await openTestStore(kube, namespace);
      stores.push(store);
      const port = await getFreePort();
      ports.push(port);
      issuers.push(
        await startIssuer({
          config: testIssuerConfig(port, { overrides: { issuer: issuerURL } }),
          store,
          logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
          keyCheckInterval: 1,
        }),
      );
    }
    lb = roundRobin(ports);
    await new Promise<void>((resolve) => lb.server.listen(lbPort, '127.0.0.1', resolve));
  }, 120_000);

  afterAll(async () => {
    lb?.server.closeAllConnections();
    await new Promise((r) => lb?.server.close(r));
    for (const issuer of issuers) await issuer.close();
    for (const store of stores) await store.close();
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  /** A full login through the load balancer (every request may hit the other replica). */
  async function loginForCode(
    client: { id: string; redirect: string } = { id: TEST_CLIENT.id, redirect: REDIRECT },
    scope = 'openid email profile',
  ): Promise<{ code: string; verifier: string }> {
    return sharedLoginForCode(issuerURL, { ...client, secret: null }, scope);
  }

  /** `kubectl apply` of an OAuth2Client named after its id, as an operator would write it. */
  async function applyClient(
    client: { id: string; secret: string; redirect: string },
    extra: Record<string, unknown>,
  ): Promise<void> {
    const manifest = {
      apiVersion: 'gatehouse.dev/v1',
      kind: 'OAuth2Client',
      metadata: { name: client.id, namespace },
      spec: { id: client.id, secret: client.secret, redirectURIs: [client.redirect], ...extra },
    };
    const applied = await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(applied.code, applied.stderr).toBe(0);
  }

  function redeem(
    baseURL: string,
    code: string,
    verifier: string,
    client: { id: string; secret: string; redirect: string } = {
      id: TEST_CLIENT.id,
      secret: TEST_CLIENT.secret!,
      redirect: REDIRECT,
    },
  ): Promise<Response> {
    return tokenRequest(`${baseURL}/dex/token`, client, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirect,
      code_verifier: verifier,
    });
  }

  it('a login begun on one replica completes on the other, and the code is redeemed on either', async () => {
    const before = [...lb.served];
    const { code, verifier } = await loginForCode();
    // Both replicas served parts of this one login.
    expect(lb.served[0]! - before[0]!).toBeGreaterThan(0);
    expect(lb.served[1]! - before[1]!).toBeGreaterThan(0);
    const res = await redeem(issuers[1]!.url, code, verifier);
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { id_token?: string; access_token?: string };
    expect(tokens.id_token).toBeTruthy();
    // The authorization code the replicas shared is a custom resource, stored under its hash.
    const codes = await kube.kubectl(['get', 'authcodes', '-n', namespace, '-o', 'json']);
    expect(codes.stdout).not.toContain(code);
  });

  it('API round-trips on model resources: a login costs 14, a code exchange 5 (the Grant read once), a refresh 6', async () => {
    // A login through both replicas (counted on both stores): no Interaction at /auth (it waits
    // in the browser, see the issuer's anonymous-records.ts), find (connector choice, 404), find
    // (404) + save of a short-lived copy (upstream redirect; interactionResult reuses the read of
    // interactionDetails), find + save (callback), find + destroy (resume); Grant get (404) +
    // apply (grant.save) + apply (its identity: the get is the write just made), Grant get
    // (resume); AuthCode apply; OIDCSession apply.
    const both = async <T>(fn: () => Promise<T>) => {
      let inner: { result: T; by: Record<string, number>; total: number } | undefined;
      const outer = await modelRequests(stores[0]!, async () => (inner = await modelRequests(stores[1]!, fn)).result);
      const by: Record<string, number> = { ...outer.by };
      for (const [r, n] of Object.entries(inner!.by)) by[r] = (by[r] ?? 0) + n;
      return { result: outer.result, by, total: outer.total + inner!.total };
    };
    const loggedIn = await both(() => loginForCode());
    expect(loggedIn.by.interactions, JSON.stringify(loggedIn.by)).toBe(7);
    expect(loggedIn.by.grants, JSON.stringify(loggedIn.by)).toBe(4);
    expect(loggedIn.total, JSON.stringify(loggedIn.by)).toBeLessThanOrEqual(14);

    // Online code (no offline_access): AuthCode get, OIDCSession list (the code dies with its
    // session), Grant get, AuthCode consume (merge patch on the version read), AccessToken apply.
    const online = loggedIn.result;
    const exchange = await modelRequests(stores[0]!, () => redeem(issuers[0]!.url, online.code, online.verifier));
    expect(exchange.result.status).toBe(200);
    expect(exchange.by.grants, JSON.stringify(exchange.by)).toBe(1);
    expect(exchange.by.authcodes, JSON.stringify(exchange.by)).toBe(2);
    expect(exchange.total, JSON.stringify(exchange.by)).toBeLessThanOrEqual(5);

    // Offline code: no session binding, one refresh token more.
    const offline = await loginForCode(undefined, 'openid email offline_access');
    const offlineExchange = await modelRequests(stores[1]!, () =>
      redeem(issuers[1]!.url, offline.code, offline.verifier),
    );
    expect(offlineExchange.result.status).toBe(200);
    expect(offlineExchange.by.grants, JSON.stringify(offlineExchange.by)).toBe(1);
    expect(offlineExchange.by.oidcsessions).toBeUndefined();
    expect(offlineExchange.total, JSON.stringify(offlineExchange.by)).toBeLessThanOrEqual(5);
    const { refresh_token } = (await offlineExchange.result.json()) as { refresh_token?: string };
    expect(refresh_token).toBeTruthy();

    // Refresh on the other replica: RefreshToken get, Grant get, consume, successor apply,
    // predecessor apply (the successor link, from the payload read first), AccessToken apply.
    // The Grant is not rewritten: the upstream identity is unchanged and its last-used time is
    // fresh (accounts.ts, lastUsedStaleness). (The mock connector's upstream refresh also reads
    // its OfflineSession: one more, not a model request.)
    const refreshAt = (issuer: RunningIssuer, token: string) =>
      fetch(`${issuer.url}/dex/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret!}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
      });
    const refresh = await modelRequests(stores[0]!, () => refreshAt(issuers[0]!, refresh_token!));
    expect(refresh.result.status, await refresh.result.clone().text()).toBe(200);
    expect(refresh.by.grants, JSON.stringify(refresh.by)).toBe(1);
    expect(refresh.by.refreshtokens, JSON.stringify(refresh.by)).toBe(4);
    expect(refresh.total, JSON.stringify(refresh.by)).toBeLessThanOrEqual(6);

    // The link written without a second read still works: the rotated-out token presented again
    // inside the reuse window yields the same successor (on the other replica).
    const { refresh_token: successor } = (await refresh.result.json()) as { refresh_token?: string };
    expect(successor).toBeTruthy();
    const again = await refreshAt(issuers[1]!, refresh_token!);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(((await again.json()) as { refresh_token?: string }).refresh_token).toBe(successor);
  });

  it('one code redeemed concurrently through both replicas: exactly one success in each of 100 trials', async () => {
    const trials = Number(process.env.GATEHOUSE_RACE_TRIALS ?? 100);
    for (let t = 0; t < trials; t++) {
      const { code, verifier } = await loginForCode();
      const responses = await Promise.all([
        redeem(issuers[0]!.url, code, verifier),
        redeem(issuers[1]!.url, code, verifier),
      ]);
      const statuses = responses.map((r) => r.status).sort();
      const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ error?: string }>));
      expect(statuses, `trial ${t}`).toEqual([200, 400]);
      expect(bodies.find((b) => b.error)?.error, `trial ${t}`).toBe('invalid_grant');
    }
  }, 600_000);

  it('after a forced rotation on one replica both publish the same signing key', async () => {
    const jwks = async (issuer: RunningIssuer): Promise<string[]> => {
      const res = await fetch(`${issuer.url}/dex/keys`);
      const body = (await res.json()) as { keys: Array<{ kid: string }> };
      return body.keys.map((k) => k.kid).sort();
    };
    const before = await jwks(issuers[0]!);
    await issuers[0]!.rotateKeys();
    const after = await jwks(issuers[0]!);
    expect(after).not.toEqual(before);
    const deadline = Date.now() + 15_000;
    let other = await jwks(issuers[1]!);
    while (JSON.stringify(other) !== JSON.stringify(after) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      other = await jwks(issuers[1]!);
    }
    expect(other).toEqual(after);
    // Both sign with the new key: an id_token from either replica carries the same kid.
    const kids: string[] = [];
    for (const issuer of issuers) {
      const { code, verifier } = await loginForCode();
      const res = await redeem(issuer.url, code, verifier);
      const { id_token } = (await res.json()) as { id_token: string };
      kids.push((JSON.parse(Buffer.from(id_token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid);
    }
    expect(kids[0]).toBe(kids[1]);
    expect(after).toContain(kids[0]);
  });

  it('a client applied with kubectl can log in on both replicas within 2 s; deleted, it is refused', async () => {
    const client = {
      id: `kubectl-${randomBytes(3).toString('hex')}`,
      secret: b64url(randomBytes(24)),
      redirect: 'http://127.0.0.1:9/kubectl-app/cb',
    };
    await applyClient(client, { name: 'Applied with kubectl' });
    const appliedAt = Date.now();
    // Each replica learns it from its own watch.
    for (const issuer of issuers) {
      for (;;) {
        const res = await fetch(
          `${issuer.url}/dex/auth?client_id=${client.id}&redirect_uri=${encodeURIComponent(client.redirect)}&response_type=code&scope=openid`,
          { redirect: 'manual' },
        );
        await res.arrayBuffer();
        if (res.status === 303 || res.status === 302) break;
        expect(Date.now() - appliedAt, `replica ${issuer.url} never saw the client`).toBeLessThan(2000);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const { code, verifier } = await loginForCode(client);
    const res = await redeem(issuers[0]!.url, code, verifier, client);
    expect(res.status).toBe(200);

    expect((await kube.kubectl(['delete', 'oauth2client', client.id, '-n', namespace])).code).toBe(0);
    const deletedAt = Date.now();
    for (const issuer of issuers) {
      for (;;) {
        const res = await fetch(
          `${issuer.url}/dex/auth?client_id=${client.id}&redirect_uri=${encodeURIComponent(client.redirect)}&response_type=code&scope=openid`,
          { redirect: 'manual' },
        );
        await res.arrayBuffer();
        if (res.status >= 400) break;
        expect(Date.now() - deletedAt, `replica ${issuer.url} still serves a deleted client`).toBeLessThan(2000);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  it('a kubectl-applied client with allowedConnectors logs in only through them (both replicas, after a patch too)', async () => {
    const client = {
      id: `only-${randomBytes(3).toString('hex')}`,
      secret: b64url(randomBytes(24)),
      redirect: 'http://127.0.0.1:9/only/cb',
    };
    await applyClient(client, { allowedConnectors: ['elsewhere'] });
    /** Where /auth with connector_id=mock sends the browser: the RP with an error, or on into the login. */
    const viaMock = async (issuer: RunningIssuer): Promise<URL | undefined> => {
      const q = new URLSearchParams({
        client_id: client.id,
        redirect_uri: client.redirect,
        response_type: 'code',
        scope: 'openid',
        state: 'st',
        connector_id: 'mock',
      });
      const res = await fetch(`${issuer.url}/dex/auth?${q.toString()}`, { redirect: 'manual' });
      await res.arrayBuffer();
      const location = res.headers.get('location');
      return location ? new URL(location, issuer.url) : undefined;
    };
    try {
      for (const issuer of issuers) {
        const deadline = Date.now() + 5000;
        let to = await viaMock(issuer);
        // Until this replica's watch has the client, /auth answers with an error page (no redirect).
        while (!to && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          to = await viaMock(issuer);
        }
        expect(to?.toString().startsWith(client.redirect), `replica ${issuer.url} → ${to?.toString()}`).toBe(true);
        expect(to?.searchParams.get('error')).toBe('invalid_request');
      }

      const patch = JSON.stringify({ spec: { allowedConnectors: ['mock'] } });
      expect(
        (await kube.kubectl(['patch', 'oauth2client', client.id, '-n', namespace, '--type=merge', '-p', patch])).code,
      ).toBe(0);
      for (const issuer of issuers) {
        const deadline = Date.now() + 5000;
        let to = await viaMock(issuer);
        while (to?.searchParams.get('error') && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          to = await viaMock(issuer);
        }
        expect(to?.searchParams.get('error') ?? null, `replica ${issuer.url} still refuses mock`).toBeNull();
      }
      const { code, verifier } = await loginForCode(client);
      expect((await redeem(issuers[1]!.url, code, verifier, client)).status).toBe(200);
    } finally {
      await kube.kubectl(['delete', 'oauth2client', client.id, '-n', namespace]);
    }
  });
});
