// Sign-out revocation against the real issuer: not a cache entry but a list of its own, per replica, and with
// session_store_type = "redis" (a real redis-server) shared by every replica and kept across restarts. The ID token
// of a signed-out session no longer authenticates as a bearer token.
import { CookieJar } from '@gatehouse/issuer/testing';
import { startRedis, type Redis } from '@gatehouse/testkit/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningForwardAuth, Session } from '../src/index.ts';
import { authCheck, signIn, startHarness, type Harness } from './harness.ts';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  redis = await startRedis();
  h = await startHarness({ session_cache_size: 2, skip_jwt_bearer_tokens: true });
}, 30_000);
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

async function signedIn(): Promise<{ cookie: string; session: Session }> {
  const jar = new CookieJar();
  await signIn(h, jar);
  const cookie = jar.header(`${h.fa.url}/app`);
  const session = h.fa.handler.context.sessions.load(cookie)?.entry.session;
  if (session === undefined) throw new Error('no session after sign-in');
  return { cookie, session };
}

const signOut = async (fa: RunningForwardAuth, cookie: string) => {
  const r = await fetch(`${fa.url}/oauth2/sign_out`, { redirect: 'manual', headers: { cookie } });
  await r.arrayBuffer();
  expect(r.status).toBe(302);
};
const status = async (fa: RunningForwardAuth, cookie: string) => {
  const r = await authCheck(fa, cookie);
  await r.arrayBuffer();
  return r.status;
};
const bearer = async (fa: RunningForwardAuth, token: string) => {
  const r = await fetch(`${fa.url}/oauth2/auth`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  return r.status;
};
/** Polls until `fn` gives `want` or `ms` pass; returns how long it took (ms), or -1. */
async function within(ms: number, want: number, fn: () => Promise<number>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if ((await fn()) === want) return performance.now() - start;
    if (performance.now() - start > ms) return -1;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('without redis: a replica forgets no sign-out, whatever its session cache does', () => {
  it('a signed-out cookie stays refused after the cache (size 2) has seen many other sessions', async () => {
    const { cookie } = await signedIn();
    expect(await status(h.fa, cookie)).toBe(202);
    await signOut(h.fa, cookie);
    expect(await status(h.fa, cookie)).toBe(401);
    for (let i = 0; i < 3; i++) {
      const other = await signedIn();
      expect(await status(h.fa, other.cookie)).toBe(202);
    }
    expect(await status(h.fa, cookie)).toBe(401);
    const replays = await Promise.all(Array.from({ length: 50 }, () => status(h.fa, cookie)));
    expect(replays.every((s) => s === 401)).toBe(true);
  });

  it("the ID token of a signed-out session is no bearer token any more; other sessions' tokens still are", async () => {
    const mine = await signedIn();
    const theirs = await signedIn();
    const idToken = mine.session.idToken as string;
    expect(idToken).toMatch(/^ey/);
    expect(await bearer(h.fa, idToken)).toBe(202);
    await signOut(h.fa, mine.cookie);
    expect(await bearer(h.fa, idToken)).toBe(401);
    expect(await bearer(h.fa, theirs.session.idToken as string)).toBe(202);
  });
});

describe('session_store_type = "redis": one revocation list for every replica, kept across restarts', () => {
  const replicas: RunningForwardAuth[] = [];
  const replica = async () => {
    const fa = await h.another({ session_store_type: 'redis', redis_connection_url: redis.url });
    replicas.push(fa);
    expect(await within(5_000, 200, async () => (await fetch(`${fa.url}/ready`)).status)).toBeGreaterThanOrEqual(0);
    return fa;
  };
  afterAll(async () => {
    for (const r of replicas) await r.close();
  });

  it('a sign-out at one replica is refused at the other at once, for 50 concurrent replays and the ID token', async () => {
    const [a, b] = [await replica(), await replica()];
    const { cookie, session } = await signedIn();
    expect(await status(b, cookie)).toBe(202);
    expect(await bearer(b, session.idToken as string)).toBe(202);
    await signOut(a, cookie);
    const seen = await within(1_000, 401, () => status(b, cookie));
    expect(seen).toBeGreaterThanOrEqual(0);
    const replays = await Promise.all(Array.from({ length: 50 }, () => status(b, cookie)));
    expect(replays.every((s) => s === 401)).toBe(true);
    expect(await bearer(b, session.idToken as string)).toBe(401);
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toMatch(/^gatehouse_forward_auth_revocations [1-9]/m);
    expect(metrics).toMatch(/^gatehouse_forward_auth_revocations_synced 1$/m);
    console.log(`sign-out at replica a refused at replica b after ${seen.toFixed(1)} ms`);
  });

  it('a restarted replica, and a restarted redis, still refuse it', async () => {
    const a = await replica();
    const { cookie, session } = await signedIn();
    await signOut(a, cookie);
    await a.close();
    const fresh = await replica();
    expect(await status(fresh, cookie)).toBe(401);
    await redis.pause();
    await redis.start();
    const afterRedis = await replica();
    expect(await status(afterRedis, cookie)).toBe(401);
    expect(await bearer(afterRedis, session.idToken as string)).toBe(401);
  });

  it('a full list folds into "everything before now" at every replica, and new logins work', async () => {
    const a = await h.another({
      session_store_type: 'redis',
      redis_connection_url: redis.url,
      revocation_max_entries: 1_000,
    });
    replicas.push(a);
    const b = await replica();
    expect(await within(5_000, 200, async () => (await fetch(`${a.url}/ready`)).status)).toBeGreaterThanOrEqual(0);
    const old = await signedIn();
    expect(await status(b, old.cookie)).toBe(202);
    const list = a.handler.context.revocations;
    for (let i = 0; i < 1_000; i++) list.add(`s:flood-${i}`, Date.now() + 60_000);
    expect(list.notBefore).toBeGreaterThan(0);
    expect(list.size).toBeLessThan(1_000);
    expect(await within(2_000, 401, () => status(b, old.cookie))).toBeGreaterThanOrEqual(0);
    expect(await status(a, old.cookie)).toBe(401);
    const fresh = await signedIn();
    expect(await status(a, fresh.cookie)).toBe(202);
    expect(await status(b, fresh.cookie)).toBe(202);
  });

  it('redis down: sign-outs still work and are written on reconnect; a replica that never synced is not ready', async () => {
    const [a, b] = [await replica(), await replica()];
    const { cookie } = await signedIn();
    expect(await status(b, cookie)).toBe(202);
    await redis.pause();
    let late: RunningForwardAuth;
    try {
      await signOut(a, cookie); // answers (after waiting at most the revocation wait) and refuses at a
      expect(await status(a, cookie)).toBe(401);
      expect(await status(b, cookie)).toBe(202); // fail open for what b has not heard of (README: the bound)
      late = await h.another({ session_store_type: 'redis', redis_connection_url: redis.url });
      replicas.push(late);
      expect((await fetch(`${late.url}/ready`)).status).toBe(503);
    } finally {
      await redis.start();
    }
    expect(await within(10_000, 401, () => status(b, cookie))).toBeGreaterThanOrEqual(0);
    // The replica that started during the outage connects, loads the list and becomes ready.
    expect(await within(10_000, 200, async () => (await fetch(`${late.url}/ready`)).status)).toBeGreaterThanOrEqual(0);
    expect(await status(late, cookie)).toBe(401);
    const fresh = await replica();
    expect(await status(fresh, cookie)).toBe(401);
  }, 30_000);
});
