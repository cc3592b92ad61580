// cookie_refresh against the real issuer: one refresh per session however many requests arrive at once.
import { CookieJar } from '@gatehouse/issuer/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Session } from '../src/index.ts';
import { authCheck, signIn, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ cookie_refresh: '5m' });
});
afterAll(async () => {
  await h?.close();
});

async function loggedInSession(): Promise<Session> {
  const jar = new CookieJar();
  await signIn(h, jar);
  const loaded = h.fa.handler.context.sessions.load(jar.header(`${h.fa.url}/app`));
  if (loaded === undefined) throw new Error('no session after sign-in');
  return loaded.entry.session;
}

/** The same session as if it had been issued ten minutes ago (past cookie_refresh). */
function aged(session: Session, over: Partial<Session> = {}): string {
  const sealed = h.fa.handler.context.sessions.seal(
    { ...session, createdAt: Date.now() - 10 * 60_000, ...over },
    undefined,
    undefined,
  );
  return sealed.setCookie.map((c) => c.split(';')[0]).join('; ');
}

const refreshes = (list: string[]) => list.filter((g) => g === 'refresh_token').length;

describe('cookie_refresh', () => {
  it('20 concurrent checks past cookie_refresh cause exactly one refresh at the issuer, and all get the new cookie', async () => {
    const session = await loggedInSession();
    expect(session.refreshToken).toBeDefined();
    const cookie = aged(session);
    const issuerBefore = refreshes(h.issuerGrants);
    const callsBefore = refreshes(h.tokenCalls);

    const answers = await Promise.all(Array.from({ length: 20 }, () => authCheck(h, cookie)));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(202));
    const newValues = new Set(
      answers.map(
        (r) =>
          r.headers
            .getSetCookie()
            .find((c) => c.startsWith('_oauth2_proxy='))
            ?.split(';')[0],
      ),
    );
    expect(newValues.size).toBe(1);
    const fresh = [...newValues][0] as string;
    expect(fresh).not.toBe(cookie);
    expect(refreshes(h.issuerGrants) - issuerBefore).toBe(1);
    expect(refreshes(h.tokenCalls) - callsBefore).toBe(1);
    for (const r of answers) expect(r.headers.get('x-auth-request-email')).toBe('kilgore@kilgore.trout');

    // The new cookie carries a new creation time: no further refresh, no Set-Cookie.
    const next = await authCheck(h, fresh);
    expect(next.status).toBe(202);
    expect(next.headers.get('set-cookie')).toBeNull();
    const renewed = h.fa.handler.context.sessions.load(fresh)?.entry.session;
    expect(renewed?.createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(renewed?.refreshToken).toBeDefined();

    // A late request still carrying the old cookie gets the new one, without another refresh.
    const late = await authCheck(h, cookie);
    expect(late.status).toBe(202);
    expect(late.headers.getSetCookie().some((c) => c.startsWith(`${fresh};`))).toBe(true);
    expect(refreshes(h.issuerGrants) - issuerBefore).toBe(1);
  });

  it('the old cookie replayed minutes after its refresh never spends the rotated refresh token; the new session lives', async () => {
    const session = await loggedInSession();
    const cookie = aged(session);
    const before = refreshes(h.tokenCalls);
    const first = await authCheck(h, cookie);
    expect(first.status).toBe(202);
    const fresh = first.headers
      .getSetCookie()
      .find((c) => c.startsWith('_oauth2_proxy='))
      ?.split(';')[0] as string;
    expect(refreshes(h.tokenCalls) - before).toBe(1);
    // Three minutes later (past any short grace, before the new session's own refresh): the old cookie again,
    // e.g. the browser never stored the new one. It is led to the new session, not to the issuer.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3 * 60_000 });
    try {
      const replay = await authCheck(h, cookie);
      expect(replay.status).toBe(202);
      expect(replay.headers.getSetCookie().some((c) => c.startsWith(`${fresh};`))).toBe(true);
      expect(refreshes(h.tokenCalls) - before).toBe(1);
      const next = await authCheck(h, fresh);
      expect(next.status).toBe(202);
      expect(next.headers.get('set-cookie')).toBeNull();
    } finally {
      vi.useRealTimers();
    }
    // The grant is intact: the new session's refresh token still works at the issuer.
    const renewed = h.fa.handler.context.sessions.load(fresh)?.entry.session as Session;
    const again = await authCheck(h, aged(renewed));
    expect(again.status).toBe(202);
    expect(again.headers.getSetCookie().some((c) => c.startsWith('_oauth2_proxy='))).toBe(true);
    expect(refreshes(h.tokenCalls) - before).toBe(2);
  });

  it('invalid_grant from the issuer ends the session and clears the cookie, once', async () => {
    const session = await loggedInSession();
    const cookie = aged(session, { refreshToken: 'not-a-refresh-token-the-issuer-knows' });
    const callsBefore = refreshes(h.tokenCalls);
    const answers = await Promise.all(Array.from({ length: 5 }, () => authCheck(h, cookie)));
    for (const r of answers) {
      expect(r.status).toBe(401);
      expect(r.headers.getSetCookie().some((c) => /^_oauth2_proxy=; .*Max-Age=0/.test(c))).toBe(true);
    }
    expect(await authCheck(h, cookie).then((r) => r.status)).toBe(401);
    expect(refreshes(h.tokenCalls) - callsBefore).toBe(1);
  });

  it('a session without a refresh token is not refreshed', async () => {
    const session = await loggedInSession();
    const { refreshToken: _dropped, ...rest } = session;
    const cookie = aged(rest as Session);
    const callsBefore = refreshes(h.tokenCalls);
    const r = await authCheck(h, cookie);
    expect(r.status).toBe(202);
    expect(refreshes(h.tokenCalls)).toBe(callsBefore);
  });
});
