// Sign-out against the real issuer: the session's tokens are revoked there (RFC 7009), so a copy of the cookie
// replayed at another replica dies at its next refresh; a failing revocation never blocks the sign-out.
import { CookieJar } from '@gatehouse/issuer/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForwardAuth, type RunningForwardAuth, type Session } from '../src/index.ts';
import { authCheck, signIn, startHarness, type Harness } from './harness.ts';

let h: Harness;
const started: RunningForwardAuth[] = [];
beforeAll(async () => {
  h = await startHarness({ cookie_refresh: '5m', pass_access_token: true });
});
afterAll(async () => {
  for (const s of started) await s.close();
  await h?.close();
});

async function signedIn(): Promise<{ cookie: string; session: Session }> {
  const jar = new CookieJar();
  await signIn(h, jar);
  const cookie = jar.header(`${h.fa.url}/app`);
  const loaded = h.fa.handler.context.sessions.load(cookie);
  if (loaded === undefined) throw new Error('no session after sign-in');
  return { cookie, session: loaded.entry.session };
}

/** The same session sealed as if issued ten minutes ago: past cookie_refresh, so a replica refreshes it. */
function aged(fa: RunningForwardAuth, session: Session): string {
  const sealed = fa.handler.context.sessions.seal({ ...session, createdAt: Date.now() - 10 * 60_000 }, undefined, undefined);
  return sealed.setCookie.map((c) => c.split(';')[0]).join('; ');
}

async function userinfo(accessToken: string): Promise<number> {
  const meta = (await (await fetch(`${h.issuer.issuerURL}/.well-known/openid-configuration`)).json()) as { userinfo_endpoint: string };
  const r = await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  await r.arrayBuffer();
  return r.status;
}

describe('sign-out revokes the session at the issuer', () => {
  it('a copied cookie replayed at another replica is dead at its next refresh; the access token is revoked', async () => {
    const { cookie, session } = await signedIn();
    expect(session.refreshToken).toBeDefined();
    expect(session.accessToken).toBeDefined();
    const other = await h.another({});
    const copy = aged(other, session); // what a thief kept, due for refresh
    expect(await userinfo(session.accessToken as string)).toBe(200);

    const out = await fetch(`${h.fa.url}/oauth2/sign_out?rd=/signed-out`, { redirect: 'manual', headers: { cookie } });
    expect(out.status).toBe(302);
    expect(out.headers.get('location')?.startsWith(h.issuer.issuerURL)).toBe(true);

    const replay = await authCheck(other, copy);
    expect(replay.status).toBe(401);
    expect(replay.headers.getSetCookie().some((c) => /^_oauth2_proxy=; .*Max-Age=0/.test(c))).toBe(true);
    expect(await userinfo(session.accessToken as string)).toBe(401);
  });

  it('a revocation the issuer refuses or never answers does not block the sign-out', async () => {
    for (const failure of ['refused', 'unreachable'] as const) {
      const failing: typeof fetch = async (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        if (url.includes('/revoke')) {
          if (failure === 'unreachable') throw new TypeError('fetch failed');
          return new Response(JSON.stringify({ error: 'server_error' }), { status: 503, headers: { 'content-type': 'application/json' } });
        }
        return fetch(input, init);
      };
      const fa = await startForwardAuth({ config: { ...h.config, http_address: '127.0.0.1:0' }, logger: pino({ level: 'silent' }), fetch: failing });
      started.push(fa);
      const { session } = await signedIn();
      const cookie = aged(fa, { ...session, createdAt: Date.now() });
      const out = await fetch(`${fa.url}/oauth2/sign_out?rd=/signed-out`, { redirect: 'manual', headers: { cookie } });
      expect(out.status, failure).toBe(302);
      expect(out.headers.get('location')?.startsWith(h.issuer.issuerURL), failure).toBe(true);
      expect(out.headers.getSetCookie().some((c) => /^_oauth2_proxy=; .*Max-Age=0/.test(c)), failure).toBe(true);
      expect((await authCheck(fa, cookie)).status, failure).toBe(401);
    }
  });
});
