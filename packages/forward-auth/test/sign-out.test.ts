// Sign-out against the real issuer: the session's tokens are revoked there (RFC 7009), so a copy of the cookie
// replayed at another replica dies at its next refresh; a failing revocation never blocks the sign-out.
import { CookieJar, browse, formAction } from '@gatehouse/issuer/testing';
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
  const sealed = fa.handler.context.sessions.seal(
    { ...session, createdAt: Date.now() - 10 * 60_000 },
    undefined,
    undefined,
  );
  return sealed.setCookie.map((c) => c.split(';')[0]).join('; ');
}

async function userinfo(accessToken: string): Promise<number> {
  const meta = (await (await fetch(`${h.issuer.issuerURL}/.well-known/openid-configuration`)).json()) as {
    userinfo_endpoint: string;
  };
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
          return new Response(JSON.stringify({ error: 'server_error' }), {
            status: 503,
            headers: { 'content-type': 'application/json' },
          });
        }
        return fetch(input, init);
      };
      const fa = await startForwardAuth({
        config: { ...h.config, http_address: '127.0.0.1:0' },
        logger: pino({ level: 'silent' }),
        fetch: failing,
      });
      started.push(fa);
      const { session } = await signedIn();
      const cookie = aged(fa, { ...session, createdAt: Date.now() });
      const out = await fetch(`${fa.url}/oauth2/sign_out?rd=/signed-out`, { redirect: 'manual', headers: { cookie } });
      expect(out.status, failure).toBe(302);
      expect(out.headers.get('location')?.startsWith(h.issuer.issuerURL), failure).toBe(true);
      expect(
        out.headers.getSetCookie().some((c) => /^_oauth2_proxy=; .*Max-Age=0/.test(c)),
        failure,
      ).toBe(true);
      expect((await authCheck(fa, cookie)).status, failure).toBe(401);
    }
  });
});

const hidden = (body: string): Record<string, string> =>
  Object.fromEntries(
    [...body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
      m[1] as string,
      (m[2] as string).replace(/&amp;/g, '&'),
    ]),
  );

describe('sign-out with rd: the issuer sees only the registered post-logout URL, rd comes back through state', () => {
  /** Signs in, signs out with `rd`, confirms at the issuer; returns the post-logout redirect and the jar. */
  async function signOutThroughIssuer(rd: string): Promise<{ jar: CookieJar; signOut: Response; back: string }> {
    const jar = new CookieJar();
    await signIn(h, jar);
    const url = `${h.fa.url}/oauth2/sign_out?rd=${encodeURIComponent(rd)}`;
    const signOut = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
    jar.store(url, signOut);
    const end = new URL(signOut.headers.get('location') ?? '');
    const page = await browse(jar, end.href);
    expect(page.status, page.body.slice(0, 300)).toBe(200);
    const confirmed = await browse(jar, formAction(page), {
      form: { ...hidden(page.body), logout: 'yes' },
      stopAt: `${h.fa.url}/oauth2/sign_out/done`,
    });
    expect(confirmed.status).toBe(303);
    return { jar, signOut, back: confirmed.location ?? '' };
  }

  it('lands on rd (not the registered URL) after the issuer logout, and the issuer session is gone', async () => {
    const { jar, signOut, back } = await signOutThroughIssuer('/foo?x=1');
    const end = new URL(signOut.headers.get('location') ?? '');
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${h.fa.url}/oauth2/sign_out/done`);
    const state = end.searchParams.get('state') ?? '';
    expect(state).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(end.href).not.toContain('foo');
    expect(new URL(back).searchParams.get('state')).toBe(state);
    const done = await fetch(back, { redirect: 'manual', headers: { cookie: jar.header(back) } });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('/foo?x=1');
    expect(done.headers.getSetCookie().some((c) => /^_oauth2_proxy_signout=; .*Max-Age=0/.test(c))).toBe(true);
    // The issuer has no session left to confirm the end of.
    const again = await browse(
      jar,
      h.fa.handler.context.oidc.endSessionURL(undefined, `${h.fa.url}/oauth2/sign_out/done`, 'again-state-0123456')
        ?.href ?? '',
    );
    expect(again.body).not.toContain('Do you want to log out');
  });

  it("the state alone is never a target: without the browser's cookie, or with another state, it goes to /", async () => {
    const { jar, back } = await signOutThroughIssuer('/private');
    const bare = await fetch(back, { redirect: 'manual' });
    expect(bare.headers.get('location')).toBe('/');
    const other = new URL(back);
    other.searchParams.set('state', 'A'.repeat(43));
    const wrong = await fetch(other, { redirect: 'manual', headers: { cookie: jar.header(back) } });
    expect(wrong.headers.get('location')).toBe('/');
    const twice = `${back}&state=${'B'.repeat(43)}`;
    expect(
      (await fetch(twice, { redirect: 'manual', headers: { cookie: jar.header(back) } })).headers.get('location'),
    ).toBe('/');
    for (const bad of ['', '?state=', '?state=%00', `?state=${'x'.repeat(5000)}`]) {
      const r = await fetch(`${h.fa.url}/oauth2/sign_out/done${bad}`, { redirect: 'manual' });
      expect(r.status, bad).toBe(302);
      expect(r.headers.get('location'), bad).toBe('/');
    }
    expect((await fetch(`${h.fa.url}/oauth2/sign_out/done`, { method: 'POST' })).status).toBe(405);
  });

  it('rd is re-validated on the way back: a target the whitelist no longer allows goes to /', async () => {
    const states = h.fa.handler.context.signOuts;
    const { state, setCookie } = states.start('https://evil.example/steal', (maxAge) =>
      h.fa.handler.context.sessions.attributes(undefined, maxAge),
    );
    const r = await fetch(`${h.fa.url}/oauth2/sign_out/done?state=${state}`, {
      redirect: 'manual',
      headers: { cookie: setCookie.split(';')[0] as string },
    });
    expect(r.headers.get('location')).toBe('/');
  });
});
