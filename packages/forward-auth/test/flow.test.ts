// The browser flow against the real issuer: start → issuer login (mockCallback) → callback → /oauth2/auth.
import { CookieJar, browse, formAction } from '@gatehouse/issuer/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authCheck, signIn, startHarness, toCallback, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('sign-in through the issuer', () => {
  it('start sends state, nonce and PKCE S256 to the issuer and keeps them in a per-flow CSRF cookie', async () => {
    const jar = new CookieJar();
    const { start } = await toCallback(h, jar);
    const auth = new URL(start.headers.get('location') as string);
    expect(auth.href.startsWith(h.issuer.issuerURL)).toBe(true);
    expect(auth.searchParams.get('client_id')).toBe('oauth2-proxy');
    expect(auth.searchParams.get('redirect_uri')).toBe(`${h.fa.url}/oauth2/callback`);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(auth.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const csrf = start.headers.getSetCookie();
    expect(csrf).toHaveLength(1);
    expect(csrf[0]).toMatch(
      /^_oauth2_proxy_[A-Za-z0-9_-]{12}_csrf=[A-Za-z0-9_-]+; Path=\/; Max-Age=900; HttpOnly; SameSite=Lax$/,
    );
    expect(csrf[0]).not.toContain(auth.searchParams.get('state') as string);
  });

  it('callback sets the session and redirects to rd; /oauth2/auth answers 202 with the identity, again and again', async () => {
    const jar = new CookieJar();
    const done = await signIn(h, jar, '/app?x=1');
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${h.fa.url}/app?x=1`);
    const setCookie = done.response.headers.getSetCookie();
    const session = setCookie.find((c) => c.startsWith('_oauth2_proxy='));
    expect(session).toMatch(/; Path=\/; Max-Age=604\d{3}; HttpOnly; SameSite=Lax$/);
    expect(setCookie.some((c) => /_csrf=; .*Max-Age=0/.test(c))).toBe(true);

    const cookie = jar.header(`${h.fa.url}/app`);
    expect(cookie).toMatch(/^_oauth2_proxy=/); // the CSRF cookie is gone
    for (let i = 0; i < 3; i++) {
      const r = await authCheck(h, cookie);
      expect(r.status).toBe(202);
      expect(r.headers.get('content-length')).toBe('0');
      expect(await r.text()).toBe('');
      expect(r.headers.get('x-auth-request-email')).toBe('kilgore@kilgore.trout');
      expect(r.headers.get('x-auth-request-groups')).toBe('authors');
      expect(r.headers.get('x-auth-request-user')).toMatch(/.+/);
      expect(r.headers.get('x-auth-request-preferred-username')).toBe('Kilgore Trout');
      expect(r.headers.get('x-auth-request-access-token')).toBeNull();
      expect(r.headers.get('set-cookie')).toBeNull();
    }
    const info = await fetch(`${h.fa.url}/oauth2/userinfo`, { headers: { cookie } });
    expect(await info.json()).toMatchObject({
      email: 'kilgore@kilgore.trout',
      groups: ['authors'],
      preferredUsername: 'Kilgore Trout',
    });
    expect(h.tokenCalls.filter((g) => g === 'refresh_token')).toHaveLength(0);
  });

  it('parallel logins in two tabs do not collide', async () => {
    const jar = new CookieJar();
    const a = await toCallback(h, jar, '/tab-a');
    const b = await toCallback(h, jar, '/tab-b');
    const first = await browse(jar, a.callbackURL, { stopAt: `${h.fa.url}/tab-a`, maxRedirects: 0 });
    const second = await browse(jar, b.callbackURL, { stopAt: `${h.fa.url}/tab-b`, maxRedirects: 0 });
    expect(first.location).toBe(`${h.fa.url}/tab-a`);
    expect(second.location).toBe(`${h.fa.url}/tab-b`);
  });

  it('bounds the number of pending flows: the oldest CSRF cookie is evicted', async () => {
    const jar = new CookieJar();
    for (let i = 0; i < 7; i++) {
      const url = `${h.fa.url}/oauth2/start?rd=/t${i}`;
      jar.store(url, await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } }));
    }
    const names = jar
      .header(`${h.fa.url}/`)
      .split('; ')
      .filter((c) => c.endsWith('_csrf') || /_csrf=/.test(c));
    expect(names).toHaveLength(5);
  });

  it('falls back to / for a hostile rd', async () => {
    const jar = new CookieJar();
    for (const rd of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
      const { callbackURL } = await toCallback(h, jar, rd);
      const done = await browse(jar, callbackURL, { stopAt: `${h.fa.url}/`, maxRedirects: 0 });
      expect(done.location, rd).toBe(`${h.fa.url}/`);
    }
  });
});

describe('the state is checked before the code is redeemed', () => {
  it('a missing CSRF cookie gives an error page and leaves the code unredeemed', async () => {
    const jar = new CookieJar();
    const { callbackURL } = await toCallback(h, jar);
    const grantsBefore = h.issuerGrants.length;
    const callsBefore = h.tokenCalls.length;
    const bare = await fetch(callbackURL, { redirect: 'manual' });
    expect(bare.status).toBe(403);
    expect(bare.headers.get('content-type')).toMatch(/text\/html/);
    expect(await bare.text()).toContain('CSRF');
    expect(h.tokenCalls.length).toBe(callsBefore);
    expect(h.issuerGrants.length).toBe(grantsBefore);
    // The same code is still redeemable by the browser that started the flow.
    const done = await browse(jar, callbackURL, { stopAt: `${h.fa.url}/app`, maxRedirects: 0 });
    expect(done.location).toBe(`${h.fa.url}/app`);
    expect(h.issuerGrants.slice(grantsBefore)).toEqual(['authorization_code']);
  });

  it('a state that does not match the CSRF cookie gives an error page and no token request', async () => {
    const jar = new CookieJar();
    const { callbackURL } = await toCallback(h, jar);
    const other = new CookieJar();
    const { callbackURL: otherCallback } = await toCallback(h, other);
    const swapped = new URL(callbackURL);
    swapped.searchParams.set('state', new URL(otherCallback).searchParams.get('state') as string);
    const callsBefore = h.tokenCalls.length;
    const grantsBefore = h.issuerGrants.length;
    const r = await fetch(swapped, { redirect: 'manual', headers: { cookie: jar.header(swapped) } });
    expect(r.status).toBe(403);
    const tampered = new URL(callbackURL);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    expect((await fetch(tampered, { redirect: 'manual', headers: { cookie: jar.header(tampered) } })).status).toBe(403);
    expect(h.tokenCalls.length).toBe(callsBefore);
    expect(h.issuerGrants.length).toBe(grantsBefore);
    expect((await browse(jar, callbackURL, { stopAt: `${h.fa.url}/app`, maxRedirects: 0 })).location).toBe(
      `${h.fa.url}/app`,
    );
  });

  it('a replayed callback (code already used) is an error page, not a session', async () => {
    const jar = new CookieJar();
    const { callbackURL } = await toCallback(h, jar);
    const csrf = jar.header(callbackURL);
    await browse(jar, callbackURL, { stopAt: `${h.fa.url}/app`, maxRedirects: 0 });
    const replay = await fetch(callbackURL, { redirect: 'manual', headers: { cookie: csrf } });
    expect(replay.status).toBe(403);
    expect(replay.headers.getSetCookie().some((c) => c.startsWith('_oauth2_proxy=') && !c.includes('Max-Age=0'))).toBe(
      false,
    );
  });
});

describe('cookies from the real flow', () => {
  it('tampered and foreign-key cookies → 401; a rotated secret still reads old cookies', async () => {
    const jar = new CookieJar();
    await signIn(h, jar);
    const cookie = jar.header(`${h.fa.url}/app`);
    const value = cookie.slice('_oauth2_proxy='.length);
    const flipped = `_oauth2_proxy=${value.slice(0, 30)}${value[30] === 'x' ? 'y' : 'x'}${value.slice(31)}`;
    expect((await authCheck(h, flipped)).status).toBe(401);
    const foreign = await h.another({ cookie_secret: Buffer.alloc(32, 7).toString('base64') });
    expect((await authCheck(foreign, cookie)).status).toBe(401);
    const rotated = await h.another({
      cookie_secret: Buffer.alloc(32, 9).toString('base64'),
      cookie_secrets: [h.secret],
    });
    const r = await authCheck(rotated, cookie);
    expect(r.status).toBe(202);
    expect(r.headers.get('x-auth-request-email')).toBe('kilgore@kilgore.trout');
  });

  it('bearer mode accepts the issuer id_token and rejects others', async () => {
    const bearer = await h.another({ skip_jwt_bearer_tokens: true });
    const jar = new CookieJar();
    await signIn(h, jar);
    const loaded = h.fa.handler.context.sessions.load(jar.header(`${h.fa.url}/app`));
    const idToken = loaded?.entry.session.idToken as string;
    const ok = await fetch(`${bearer.url}/oauth2/auth`, { headers: { authorization: `Bearer ${idToken}` } });
    expect(ok.status).toBe(202);
    expect(ok.headers.get('x-auth-request-email')).toBe('kilgore@kilgore.trout');
    const [hd, pl] = idToken.split('.');
    const forged = `${hd}.${pl}.${'A'.repeat(342)}`;
    expect((await fetch(`${bearer.url}/oauth2/auth`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(
      401,
    );
    const otherAudience = await h.another({ skip_jwt_bearer_tokens: true, client_id: 'someone-else' });
    expect(
      (await fetch(`${otherAudience.url}/oauth2/auth`, { headers: { authorization: `Bearer ${idToken}` } })).status,
    ).toBe(401);
  });

  it('an expired session (inside the payload, whatever the cookie says) → 401', async () => {
    const jar = new CookieJar();
    await signIn(h, jar);
    const session = h.fa.handler.context.sessions.load(jar.header(`${h.fa.url}/app`))?.entry.session;
    expect(session).toBeDefined();
    const sealed = h.fa.handler.context.sessions.seal(
      { ...session!, expiresAt: Date.now() - 1000 },
      undefined,
      undefined,
    );
    expect((await authCheck(h, sealed.setCookie.map((c) => c.split(';')[0]).join('; '))).status).toBe(401);
  });

  it('bearer tokens from an extra_jwt_issuers entry are verified against that issuer', async () => {
    const other = await startHarness();
    try {
      const jar = new CookieJar();
      await signIn(other, jar);
      const idToken = other.fa.handler.context.sessions.load(jar.header(`${other.fa.url}/app`))?.entry.session
        .idToken as string;
      const withExtra = await h.another({
        skip_jwt_bearer_tokens: true,
        extra_jwt_issuers: [`${other.issuer.issuerURL}=oauth2-proxy`],
      });
      const ok = await fetch(`${withExtra.url}/oauth2/auth`, { headers: { authorization: `Bearer ${idToken}` } });
      expect(ok.status).toBe(202);
      expect(ok.headers.get('x-auth-request-email')).toBe('kilgore@kilgore.trout');
      const wrongAudience = await h.another({
        skip_jwt_bearer_tokens: true,
        extra_jwt_issuers: [`${other.issuer.issuerURL}=another-client`],
      });
      expect(
        (await fetch(`${wrongAudience.url}/oauth2/auth`, { headers: { authorization: `Bearer ${idToken}` } })).status,
      ).toBe(401);
      const without = await h.another({ skip_jwt_bearer_tokens: true });
      expect(
        (await fetch(`${without.url}/oauth2/auth`, { headers: { authorization: `Bearer ${idToken}` } })).status,
      ).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('a login after the issuer rotates its keys verifies with the new key', async () => {
    await h.issuer.rotateKeys();
    const jar = new CookieJar();
    const done = await signIn(h, jar);
    expect(done.location).toBe(`${h.fa.url}/app`);
    expect((await authCheck(h, jar.header(`${h.fa.url}/app`))).status).toBe(202);
  });
});

describe('sign-out', () => {
  it('clears our cookies and ends the issuer session through end_session with client_id, never the id_token', async () => {
    const jar = new CookieJar();
    await signIn(h, jar);
    const issuerCookies = () =>
      jar
        .header(`${h.issuer.issuerURL}/`)
        .split('; ')
        .filter((c) => c !== '');
    expect(issuerCookies().some((c) => c.startsWith('_session='))).toBe(true);
    const cookie = jar.header(`${h.fa.url}/app`);

    const out = await fetch(`${h.fa.url}/oauth2/sign_out?rd=/signed-out`, { redirect: 'manual', headers: { cookie } });
    jar.store(`${h.fa.url}/oauth2/sign_out`, out);
    expect(out.status).toBe(302);
    expect(out.headers.getSetCookie().some((c) => /^_oauth2_proxy=; .*Max-Age=0/.test(c))).toBe(true);
    const end = new URL(out.headers.get('location') as string);
    expect(end.href.startsWith(h.issuer.issuerURL)).toBe(true);
    // The URL lands in browser history and logs: no token in it; the issuer identifies the client by client_id.
    expect(end.searchParams.get('id_token_hint')).toBeNull();
    expect(end.href).not.toMatch(/ey[A-Za-z0-9_-]{10,}\./);
    expect(end.searchParams.get('client_id')).toBe('oauth2-proxy');
    // The issuer is given the one registered URL; rd comes back through the state.
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${h.fa.url}/oauth2/sign_out/done`);

    // The issuer asks for confirmation (oidc-provider's logout form), then returns to the registered URI.
    const confirm = await browse(jar, end.href);
    expect(confirm.status).toBe(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)?.[1] as string;
    const done = await browse(jar, formAction(confirm), {
      form: { xsrf, logout: 'yes' },
      stopAt: `${h.fa.url}/signed-out`,
    });
    expect(done.url).toMatch(new RegExp(`^${h.fa.url}/oauth2/sign_out/done\\?state=`));
    expect(done.location).toBe(`${h.fa.url}/signed-out`);
    expect(issuerCookies().some((c) => c.startsWith('_session='))).toBe(false);

    expect(jar.header(`${h.fa.url}/app`)).toBe('');
    expect((await authCheck(h, cookie)).status).toBe(401); // the old cookie, replayed
  });
});
