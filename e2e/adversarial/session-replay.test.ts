// Session replay after sign-out, through nginx with the deploy template: a copy of a signed-out cookie (and the
// session's ID token as a bearer token) replayed after the session cache has evicted it, after forward-auth
// restarted, and at another replica, with and without session_store_type = "redis" (a real redis-server). The
// replicas sit behind one address, as behind a Kubernetes Service, through a TCP balancer the test steers.
// Each case states the README's guarantee: refused, or, without Redis, served where the README says it is
// (per replica; cookie_refresh bounds it).
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForwardAuth, type RunningForwardAuth } from '@gatehouse/forward-auth';
import { startRedis, type Redis } from '@gatehouse/testkit/redis';
import { edgeFetch } from '../src/edge-fetch.ts';
import { closeClients, http1 } from './client.ts';
import { Jar, signIn } from './flow.ts';
import { CASE_HEADER, startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const replay = defineClass('session/replay-after-sign-out');

/** A TCP balancer on forward-auth's address: new connections go to the routed replica; routing drops the rest. */
async function startBalancer(port: number): Promise<{ route(port: number): Promise<void>; close(): Promise<void> }> {
  let target = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect(target, '127.0.0.1');
    for (const s of [client, up]) sockets.add(s);
    const done = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.pipe(up).pipe(client);
    for (const s of [client, up]) {
      s.on('error', done);
      s.on('close', done);
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  return {
    async route(p) {
      target = p;
      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 50));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('session replay after sign-out (proxy_pass http://app)', () => {
  let stack: AdversarialStack;
  let redis: Redis;
  let balancer: Awaited<ReturnType<typeof startBalancer>>;
  const running = new Set<RunningForwardAuth>();

  beforeAll(async () => {
    redis = await startRedis();
    // cookieRefresh gives sessions a refresh token (offline_access); each replica below sets its own cookie_refresh.
    stack = await startAdversarialStack({
      proxyPass: 'http://app',
      withMockConnector: true,
      cookieRefresh: '2s',
      forwardAuth: { session_cache_size: 2, skip_jwt_bearer_tokens: true },
    });
    const port = Number(new URL(stack.forwardAuth.url).port);
    await stack.forwardAuth.close();
    balancer = await startBalancer(port);
  });
  afterAll(async () => {
    for (const fa of running) await fa.close();
    await balancer?.close();
    if (stack) closeClients(stack);
    await stack?.stop();
    await redis?.stop();
  });

  /** A forward-auth replica with the stack's configuration (and `over`), on a port of its own. */
  async function replica(over: Record<string, unknown>): Promise<RunningForwardAuth> {
    const fa = await startForwardAuth({
      config: { ...stack.forwardAuth.handler.context.cfg, http_address: '127.0.0.1:0', ...over },
      logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
      fetch: edgeFetch(stack.origin, stack.tls.caCert),
    });
    running.add(fa);
    for (let i = 0; i < 100 && (await fetch(`${fa.url}/ready`)).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 50));
    return fa;
  }
  const stopReplica = async (fa: RunningForwardAuth) => {
    running.delete(fa);
    await fa.close();
  };
  const routeTo = (fa: RunningForwardAuth) => balancer.route(Number(new URL(fa.url).port));

  /** Signs in through nginx; returns the session cookie header and the session's ID token. */
  async function signedIn(fa: RunningForwardAuth): Promise<{ cookie: string; idToken: string }> {
    const jar = new Jar();
    await signIn(stack, jar, '/private/x');
    const cookie = jar.header();
    const idToken = fa.handler.context.sessions.load(cookie)?.entry.session.idToken;
    if (idToken === undefined) throw new Error(`no session after sign-in: ${cookie.slice(0, 80)}`);
    return { cookie, idToken };
  }
  const signOut = async (cookie: string) => {
    const r = await http1(stack, '/oauth2/sign_out?rd=%2F', { headers: { cookie } });
    expect(r.status).toBe(302);
  };

  /** One replay through nginx: 'served' when the app saw it, 'auth-required' for the sign-in redirect or a 401. */
  async function attempt(headers: Record<string, string>): Promise<string> {
    const id = stack.caseId();
    const res = await http1(stack, '/private/x', { headers: { [CASE_HEADER]: id, ...headers } });
    if (stack.appSaw(id).length > 0) return 'served';
    if ((res.status === 302 && String(res.headers.location).includes('/oauth2/start')) || res.status === 401)
      return 'auth-required';
    return `status-${res.status}`;
  }

  /** 50 concurrent replays of the cookie, one of the ID token as a bearer, one as an API call. */
  async function replays(
    scenario: string,
    s: { cookie: string; idToken: string },
    expected: { cookie: string; bearer: string },
  ): Promise<void> {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => attempt({ cookie: s.cookie, accept: 'text/html' })),
    );
    outcomes.forEach((o, i) => replay.check(`${scenario}/cookie#${i}`, expected.cookie, o));
    replay.check(
      `${scenario}/cookie-as-api-call`,
      expected.cookie,
      await attempt({ cookie: s.cookie, accept: 'application/json' }),
    );
    replay.check(
      `${scenario}/id-token-as-bearer`,
      expected.bearer,
      await attempt({ authorization: `Bearer ${s.idToken}` }),
    );
  }

  it('without redis: refused by the replica that signed out however its cache evicts; elsewhere as the README states', async () => {
    const a = await replica({ cookie_refresh: 0 });
    await routeTo(a);
    const s = await signedIn(a);
    expect(await attempt({ cookie: s.cookie })).toBe('served');
    expect(await attempt({ authorization: `Bearer ${s.idToken}` })).toBe('served');
    await signOut(s.cookie);
    for (let i = 0; i < 3; i++) expect(await attempt({ cookie: (await signedIn(a)).cookie })).toBe('served'); // the cache (2) forgets s
    await replays('no-redis/cache-evicted', s, { cookie: 'auth-required', bearer: 'auth-required' });

    // Another replica never heard of the sign-out: per replica, documented.
    const b = await replica({ cookie_refresh: 0 });
    await routeTo(b);
    await replays('no-redis/other-replica (README: per replica)', s, { cookie: 'served', bearer: 'served' });
    // forward-auth restarted: the same.
    await stopReplica(a);
    const a2 = await replica({ cookie_refresh: 0 });
    await routeTo(a2);
    await replays('no-redis/restarted (README: per replica)', s, { cookie: 'served', bearer: 'served' });
    await stopReplica(b);
    await stopReplica(a2);
  });

  it('without redis, cookie_refresh bounds it: after a restart the copy dies at its first refresh', async () => {
    const a = await replica({ cookie_refresh: 2_000 });
    await routeTo(a);
    const s = await signedIn(a);
    await signOut(s.cookie);
    await stopReplica(a);
    const restarted = await replica({ cookie_refresh: 2_000 });
    await routeTo(restarted);
    await new Promise((r) => setTimeout(r, 2_100));
    replay.check(
      'no-redis/restarted/after-cookie_refresh',
      'auth-required',
      await attempt({ cookie: s.cookie, accept: 'text/html' }),
    );
    const again = await Promise.all(Array.from({ length: 50 }, () => attempt({ cookie: s.cookie })));
    again.forEach((o, i) => replay.check(`no-redis/restarted/after-cookie_refresh#${i}`, 'auth-required', o));
    await stopReplica(restarted);
  });

  it('with redis: refused at the other replica, after a replica restart and after a redis restart', async () => {
    const shared = { cookie_refresh: 0, session_store_type: 'redis', redis_connection_url: redis.url };
    const [a, b] = [await replica(shared), await replica(shared)];
    await routeTo(a);
    const s = await signedIn(a);
    await routeTo(b);
    expect(await attempt({ cookie: s.cookie })).toBe('served');
    await routeTo(a);
    await signOut(s.cookie);
    await routeTo(b);
    await replays('redis/other-replica', s, { cookie: 'auth-required', bearer: 'auth-required' });

    await stopReplica(b);
    const b2 = await replica(shared);
    await routeTo(b2);
    await replays('redis/replica-restarted', s, { cookie: 'auth-required', bearer: 'auth-required' });

    await redis.pause();
    await redis.start();
    await stopReplica(a);
    const a2 = await replica(shared);
    await routeTo(a2);
    await replays('redis/redis-and-replica-restarted', s, { cookie: 'auth-required', bearer: 'auth-required' });
    await stopReplica(b2);
    await stopReplica(a2);
  }, 60_000);
});
