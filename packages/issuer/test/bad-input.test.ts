import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { ConnectorError } from '@gatehouse/connector-kit';
import type { RunningIssuer } from '../src/index.ts';
import {
  browse,
  CookieJar,
  formAction,
  login,
  MOCK_CONNECTOR,
  startTestIssuer,
  TEST_CLIENT,
} from '../src/testing/index.ts';
import { authorize, bouncingCallbackFactory, discover, postForm, redeem, REDIRECT, shortExpiry } from './helpers.ts';

const PUBLIC_CLIENT = { ...TEST_CLIENT, id: 'cli', secret: undefined, public: true, name: 'CLI' };

/** A callback connector whose upstream "answers" with the outcome named in the callback's `mode`. */
const failingFactory = bouncingCallbackFactory('failing', {
  async handleCallback(_scopes, _kept, request) {
    const mode = request.url.searchParams.get('mode');
    if (mode === 'denied') throw new ConnectorError('access_denied', 'denied upstream');
    if (mode === 'groups') throw new ConnectorError('not_in_required_groups', 'no group');
    throw new ConnectorError('upstream_unavailable', 'upstream down', { retryAfter: 30 });
  },
});

const html = { accept: 'text/html' };

describe('bad input never yields a 5xx', () => {
  let issuer: RunningIssuer;
  let config: client.Configuration;
  let base: string;
  const basic: [string, string] = [TEST_CLIENT.id, TEST_CLIENT.secret!];

  beforeAll(async () => {
    issuer = await startTestIssuer({
      staticClients: [TEST_CLIENT, PUBLIC_CLIENT],
      connectors: [MOCK_CONNECTOR, { type: 'failing', id: 'failing', name: 'Failing', config: {} }],
      connectorFactories: [failingFactory],
      overrides: { expiry: shortExpiry({ reuseInterval: 3 }, { authCodes: 1 }) },
    });
    config = await discover(issuer);
    base = issuer.issuerURL;
  });
  afterAll(async () => {
    await issuer?.close();
  });

  function authQuery(extra: Record<string, string> = {}, clientId = TEST_CLIENT.id): string {
    const q = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT,
      state: 'st',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ...extra,
    });
    return `${base}/auth?${q.toString()}`;
  }

  it('discovery advertises S256 only, code flow only, and Dex paths', async () => {
    const meta = config.serverMetadata();
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.introspection_endpoint).toBe(`${base}/token/introspect`);
    expect(meta.scopes_supported).toContain('federated:id');
  });

  it('unknown client at /auth: an error page, not a redirect', async () => {
    const res = await fetch(authQuery({}, 'nobody'), { headers: html, redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const body = await res.text();
    expect(body).toContain('invalid_client');
    expect(body).not.toMatch(/<script|node_modules|at async/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('wrong redirect_uri: an error page, never a redirect', async () => {
    for (const uri of [
      'http://127.0.0.1:9/callback/',
      'http://127.0.0.1:9/callback?x=1',
      'https://evil.example/callback',
      'http://127.0.0.1:9/CALLBACK',
    ]) {
      const res = await fetch(authQuery({ redirect_uri: uri }), { headers: html, redirect: 'manual' });
      expect(res.status, uri).toBe(400);
      expect(res.headers.get('location'), uri).toBeNull();
    }
  });

  it('a public client without PKCE is refused', async () => {
    const url = authQuery({ code_challenge: '', code_challenge_method: '' }, PUBLIC_CLIENT.id).replace(
      /&code_challenge=&code_challenge_method=/,
      '',
    );
    const page = await browse(new CookieJar(), url, { stopAt: REDIRECT });
    expect(new URL(page.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a public client without redirect URIs may use any http loopback URL (Dex), nothing else', async () => {
    const cli = await startTestIssuer({ staticClients: [{ ...PUBLIC_CLIENT, id: 'kubelogin', redirectURIs: [] }] });
    try {
      const q = (redirect: string) =>
        `${cli.issuerURL}/auth?${new URLSearchParams({
          client_id: 'kubelogin',
          response_type: 'code',
          scope: 'openid',
          redirect_uri: redirect,
          state: 'st',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        })}`;
      for (const ok of ['http://127.0.0.1:18000/callback', 'http://localhost:8000', 'http://[::1]:5555/x']) {
        const page = await browse(new CookieJar(), q(ok), { stopAt: ok.replace(/\/?$/, '') });
        expect(page.location, ok).toBeDefined();
        expect(new URL(page.location!).searchParams.get('code'), ok).toBeTruthy();
      }
      for (const bad of [
        'https://127.0.0.1:18000/callback',
        'http://evil.example:8000/',
        'http://127.0.0.1.evil.example/',
      ]) {
        const res = await fetch(q(bad), { headers: html, redirect: 'manual' });
        expect(res.status, bad).toBe(400);
        expect(res.headers.get('location'), bad).toBeNull();
      }
    } finally {
      await cli.close();
    }
  });

  it('plain PKCE is refused', async () => {
    const page = await browse(new CookieJar(), authQuery({ code_challenge_method: 'plain' }), { stopAt: REDIRECT });
    expect(new URL(page.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a 100 KB state is refused with a 4xx', async () => {
    const res = await fetch(authQuery({ state: 'x'.repeat(100_000) }), { headers: html, redirect: 'manual' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('a 100 KB POST to /auth and to /callback is refused with a 4xx', async () => {
    for (const path of ['/auth', '/callback']) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ client_id: TEST_CLIENT.id, state: 's'.repeat(100_000) }).toString(),
        redirect: 'manual',
      });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });

  it('token endpoint: unknown client, wrong secret, unknown grant type, malformed and oversized bodies', async () => {
    const token = `${base}/token`;
    const unknown = await postForm(token, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT }, [
      'nobody',
      'x',
    ]);
    expect([unknown.status, unknown.json?.error]).toEqual([401, 'invalid_client']);
    const wrong = await postForm(token, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT }, [
      TEST_CLIENT.id,
      'wrong',
    ]);
    expect([wrong.status, wrong.json?.error]).toEqual([401, 'invalid_client']);
    const grant = await postForm(token, { grant_type: 'urn:nope' }, basic);
    expect([grant.status, grant.json?.error]).toEqual([400, 'unsupported_grant_type']);
    const missing = await postForm(token, {}, basic);
    expect(missing.status).toBe(400);
    const bogus = await postForm(
      token,
      { grant_type: 'authorization_code', code: 'bogus', redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43) },
      basic,
    );
    expect([bogus.status, bogus.json?.error]).toEqual([400, 'invalid_grant']);
    const big = await postForm(token, { grant_type: 'authorization_code', code: 'c'.repeat(100_000) }, basic);
    expect(big.status).toBeGreaterThanOrEqual(400);
    expect(big.status).toBeLessThan(500);
    const auth = `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`;
    for (const [type, body] of [
      ['application/json', '{"grant_type":'],
      ['application/x-www-form-urlencoded', '%%%&&&=='],
      ['text/plain', 'grant_type=authorization_code'],
    ] as const) {
      const res = await fetch(token, { method: 'POST', headers: { 'content-type': type, authorization: auth }, body });
      expect(res.status, type).toBeGreaterThanOrEqual(400);
      expect(res.status, type).toBeLessThan(500);
    }
    const get = await fetch(token);
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(get.status).toBeLessThan(500);
  });

  it('missing or wrong PKCE verifier, and an expired code, are invalid_grant', async () => {
    const a = await authorize(config, 'openid');
    const code = a.callback.searchParams.get('code')!;
    const noVerifier = await postForm(
      `${base}/token`,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT },
      basic,
    );
    expect(noVerifier.status).toBe(400);
    const wrongVerifier = await postForm(
      `${base}/token`,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: client.randomPKCECodeVerifier(),
      },
      basic,
    );
    expect([wrongVerifier.status, wrongVerifier.json?.error]).toEqual([400, 'invalid_grant']);
    const wrongRedirect = await postForm(
      `${base}/token`,
      { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/other', code_verifier: a.verifier },
      basic,
    );
    expect([wrongRedirect.status, wrongRedirect.json?.error]).toEqual([400, 'invalid_grant']);
    // authCodes is 1 s in this issuer.
    const b = await authorize(config, 'openid');
    await new Promise((r) => setTimeout(r, 2100));
    await expect(redeem(config, b)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('userinfo, introspection and revocation refuse bad tokens and clients with 4xx', async () => {
    const none = await fetch(`${base}/userinfo`);
    expect(none.status).toBeGreaterThanOrEqual(400);
    expect(none.status).toBeLessThan(500);
    const bogus = await fetch(`${base}/userinfo`, { headers: { authorization: 'Bearer bogus' } });
    expect(bogus.status).toBe(401);
    const intro = await postForm(`${base}/token/introspect`, {}, basic);
    expect(intro.status).toBe(400);
    const revoke = await postForm(`${base}/token/revoke`, { token: 'x' }, ['nobody', 'x']);
    expect(revoke.status).toBe(401);
  });

  it('bogus interaction ids and interactions without the cookie get a readable 400 page', async () => {
    for (const path of [
      '/interaction/bogus',
      '/interaction/%00%2e%2e',
      '/interaction/abc/connector/mock',
      '/interaction/abc/callback?state=abc',
    ]) {
      const res = await fetch(`${base}${path}`, { headers: html, redirect: 'manual' });
      expect(res.status, path).toBe(400);
      expect(await res.text(), path).toContain('Login session not found');
    }
    const post = await fetch(`${base}/interaction/abc/connector/mock/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'login=a&password=b',
    });
    expect(post.status).toBe(400);
  });

  it("the upstream callback without state, or with another browser's state, does not log in", async () => {
    const none = await fetch(`${base}/callback?code=abc`, { headers: html, redirect: 'manual' });
    expect(none.status).toBe(400);
    // Victim starts a login; the attacker's browser replays the victim's callback URL.
    const victim = new CookieJar();
    const started = await browse(victim, authQuery({ connector_id: 'mock' }), { stopAt: `${base}/callback` });
    const callbackURL = started.location!;
    const attacker = new CookieJar();
    const hijack = await browse(attacker, callbackURL, { stopAt: REDIRECT });
    expect(hijack.location).toBeUndefined();
    expect(hijack.status).toBe(400);
    expect(hijack.body).toContain('Login session not found');
    // The victim's own browser completes it.
    const own = await browse(victim, callbackURL, { stopAt: REDIRECT });
    expect(new URL(own.location!).searchParams.get('code')).toBeTruthy();
  });

  it('form_post callbacks go on as a POST from a Continue page (see upstream-callback.test.ts)', async () => {
    const jar = new CookieJar();
    const started = await browse(jar, authQuery({ connector_id: 'mock' }), { stopAt: `${base}/callback` });
    const params = Object.fromEntries(new URL(started.location!).searchParams);
    const page = await browse(jar, `${base}/callback`, { form: params });
    expect(page.status).toBe(200);
    expect(page.visited).toEqual([`${base}/callback`]);
    const done = await browse(jar, formAction(page), { form: params, stopAt: REDIRECT });
    expect(new URL(done.location!).searchParams.get('code')).toBeTruthy();
  });

  it('connector errors: 403 for access denied / groups, 502 with a retry link when upstream is down', async () => {
    for (const [mode, status] of [
      ['denied', 403],
      ['groups', 403],
      ['down', 502],
    ] as const) {
      const jar = new CookieJar();
      const started = await browse(jar, authQuery({ connector_id: 'failing' }), { stopAt: `${base}/callback` });
      const page = await browse(jar, `${started.location!}&mode=${mode}`);
      expect(page.status, mode).toBe(status);
      if (status === 502) {
        expect(page.body).toContain('Try again');
        expect(page.response.headers.get('retry-after')).toBe('30');
      } else {
        expect(page.body).toContain('Access denied');
      }
    }
  });

  it('logout with an unregistered post_logout_redirect_uri is an error page', async () => {
    const tokens = await redeem(config, await authorize(config, 'openid'));
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'https://evil.example/',
    });
    const res = await fetch(url, { headers: html, redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('malformed percent-encoding, path tricks and a garbage Basic header are 4xx', async () => {
    for (const p of [
      '/interaction/%E0%A4%A',
      '/interaction/abc/connector/%ZZ',
      '/callback?state=%E0%A4%A',
      '/auth?client_id=%ZZ',
      '/keys/../token',
      '/%2e%2e/etc',
      '/token?x=%',
    ]) {
      const res = await fetch(`${base}${p}`, { redirect: 'manual', headers: html });
      expect(res.status, p).toBeGreaterThanOrEqual(400);
      expect(res.status, p).toBeLessThan(500);
    }
    const res = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { authorization: 'Basic !!!notbase64', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=x',
    });
    expect(res.status).toBe(400);
  });

  it('health endpoints and unknown paths', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${issuer.url}/elsewhere`)).status).toBe(404);
    expect((await fetch(`${base}/no-such-endpoint`)).status).toBe(404);
  });

  it('the testing login helper stops at error pages', async () => {
    const page = await login(new CookieJar(), authQuery({ connector_id: 'failing' }), { stopAt: REDIRECT });
    expect(page.location).toBeUndefined();
  });
});
