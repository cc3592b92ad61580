/**
 * Endpoint hardening found by review: no 500 from cookie-less device requests, nothing printed
 * raw to stderr, endpoint URLs built from the configured issuer (never the Host header), POST at
 * the authorization endpoint, and no inline-script pages (logout, form_post).
 */
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { MemoryStore, type ModelName } from '@gatehouse/storage';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningIssuer } from '../src/index.ts';
import {
  browse,
  CookieJar,
  formAction,
  login,
  startTestIssuer,
  TEST_CLIENT,
  testOAuth2,
} from '../src/testing/index.ts';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };

/** A raw request (fetch cannot set Host). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end(options.body);
    },
  );
}

describe('endpoint hardening', () => {
  let issuer: RunningIssuer;
  let base: string;
  const printed: string[] = [];

  beforeAll(async () => {
    issuer = await startTestIssuer({
      overrides: { oauth2: testOAuth2({ grantTypes: ['authorization_code', 'refresh_token', DEVICE] }) },
    });
    base = issuer.issuerURL;
    const capture = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    vi.spyOn(console, 'error').mockImplementation(capture);
    vi.spyOn(console, 'warn').mockImplementation(capture);
  });
  afterEach(() => {
    expect(printed, 'nothing is printed outside the logger').toEqual([]);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await issuer?.close();
  });

  it('device endpoints without a session cookie answer 4xx with our page, never 500', async () => {
    const cases: Array<[string, string, string?]> = [
      ['GET', '/device/code'],
      ['GET', '/device/anything'],
      ['HEAD', '/device/x'],
      ['POST', '/device', 'x=1'],
      ['POST', '/device', 'xsrf=x&user_code=ABCD-EFGH'],
      ['POST', '/device/x', 'a=b'],
    ];
    for (const [method, path, body] of cases) {
      const r = await raw(`${base}${path}`, { method, headers: form, ...(body !== undefined ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${method} ${path}`).toBeLessThan(500);
      if (method !== 'HEAD') {
        expect(r.headers['content-type'], `${method} ${path}`).toMatch(/text\/html/);
        expect(r.body).not.toMatch(/TypeError|at .*\.js:\d+/);
      }
    }
  });

  it('endpoint URLs come from the configured issuer, whatever Host or X-Forwarded-* say', async () => {
    const issuerURL = new URL(base);
    const variants: Array<Record<string, string>> = [
      { host: 'evil.com' },
      { host: 'evil.com', 'x-forwarded-host': 'evil.org', 'x-forwarded-proto': 'https' },
    ];
    for (const headers of variants) {
      const r = await raw(`${base}/.well-known/openid-configuration`, {
        headers: { ...headers, accept: 'application/json' },
      });
      expect(r.status).toBe(200);
      const meta = JSON.parse(r.body) as Record<string, unknown>;
      for (const key of [
        'issuer',
        'authorization_endpoint',
        'token_endpoint',
        'jwks_uri',
        'userinfo_endpoint',
        'device_authorization_endpoint',
        'end_session_endpoint',
      ]) {
        expect(new URL(String(meta[key])).origin, key).toBe(issuerURL.origin);
      }
    }
    const device = await raw(`${base}/device/code`, {
      method: 'POST',
      headers: {
        host: 'evil.com',
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`,
      },
      body: 'scope=openid',
    });
    expect(device.status).toBe(200);
    const body = JSON.parse(device.body) as Record<string, unknown>;
    expect(new URL(String(body.verification_uri)).origin).toBe(issuerURL.origin);
    expect(new URL(String(body.verification_uri_complete)).origin).toBe(issuerURL.origin);
  });

  it('the authorization endpoint accepts POST (OIDC Core 3.1.2.1) with the same checks as GET', async () => {
    const params = {
      client_id: TEST_CLIENT.id,
      redirect_uri: TEST_CLIENT.redirectURIs[0]!,
      response_type: 'code',
      scope: 'openid',
      state: 'post-state',
      nonce: 'n',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    };
    const post = (body: Record<string, string>) =>
      fetch(`${base}/auth`, {
        method: 'POST',
        headers: form,
        body: new URLSearchParams(body).toString(),
        redirect: 'manual',
      });
    const ok = await post(params);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toMatch(/\/interaction\//);
    // A wrong redirect_uri is an error page, not a redirect; an unknown client too.
    const bad = await post({ ...params, redirect_uri: 'https://evil.example/cb' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('location')).toBeNull();
    // Parameters twice (the body is read like a query) are refused: an error back to the client.
    const twice = await fetch(`${base}/auth`, {
      method: 'POST',
      headers: form,
      body: `${new URLSearchParams(params).toString()}&scope=openid`,
      redirect: 'manual',
    });
    expect(new URL(twice.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    // Only a urlencoded form.
    const json = await fetch(`${base}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
      redirect: 'manual',
    });
    expect(json.status).toBe(415);
  });

  const noScript = (r: { response: Response; body: string }) => {
    expect(r.body).not.toMatch(/<script/i);
    const csp = r.response.headers.get('content-security-policy') ?? '';
    expect(csp).not.toMatch(/script-src|sha256-/);
    expect(csp).toMatch(/default-src 'none'/);
  };
  const hidden = (body: string) =>
    Object.fromEntries(
      [...body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
        m[1],
        m[2]!.replace(/&amp;/g, '&'),
      ]),
    );

  it('logout without an issuer session: our page with a visible form, no script; it completes the logout', async () => {
    const jar = new CookieJar();
    const postLogout = TEST_CLIENT.postLogoutRedirectURIs![0]!;
    const q = new URLSearchParams({ client_id: TEST_CLIENT.id, post_logout_redirect_uri: postLogout, state: 'bye' });
    const page = await browse(jar, `${base}/logout?${q}`);
    expect(page.status).toBe(200);
    noScript(page);
    expect(page.body).toMatch(/<button[^>]*type="submit"/);
    expect(page.response.headers.get('content-security-policy')).toContain(new URL(postLogout).origin);
    const done = await browse(jar, formAction(page), { form: hidden(page.body), stopAt: postLogout });
    expect(done.location).toBe(`${postLogout}?state=bye`);
  });

  it('response_mode=form_post: our page with a visible form to the redirect_uri, no script', async () => {
    const redirect = TEST_CLIENT.redirectURIs[0]!;
    const q = new URLSearchParams({
      client_id: TEST_CLIENT.id,
      redirect_uri: redirect,
      response_type: 'code',
      response_mode: 'form_post',
      scope: 'openid',
      state: 'fp-state',
      nonce: 'n',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const page = await login(new CookieJar(), `${base}/auth?${q}`, { stopAt: redirect });
    expect(page.status).toBe(200);
    noScript(page);
    expect(formAction(page)).toBe(redirect);
    expect(page.response.headers.get('content-security-policy')).toContain(new URL(redirect).origin);
    const fields = hidden(page.body);
    expect(fields.state).toBe('fp-state');
    expect(fields.code).toBeTruthy();
    expect(fields.iss).toBe(base);
    // An error is delivered the same way.
    const denied = await browse(
      new CookieJar(),
      `${base}/auth?${new URLSearchParams({ ...Object.fromEntries(q), scope: 'openid bogus' })}`,
    );
    noScript(denied);
    expect(hidden(denied.body).error).toBe('invalid_scope');
  });
});

describe('server errors', () => {
  it('a failing store gives a 500 page/JSON without a stack, logged through pino without the token', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _e, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const inner = new MemoryStore();
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'model') {
          return (name: ModelName) => {
            const m = target.model(name);
            if (name !== 'AccessToken') return m;
            return {
              ...m,
              find: async () => {
                throw new Error('storage exploded');
              },
            };
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const printed: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      printed.push(String(chunk));
      return true;
    });
    const issuer = await startTestIssuer({ store, logger });
    try {
      const token = 'a-bearer-token-that-must-not-be-logged-0123456789';
      const res = await fetch(`${issuer.issuerURL}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(body).not.toMatch(/storage exploded|at .*\.ts:\d+/);
      expect(lines.join('')).toContain('storage exploded');
      expect(lines.join('')).not.toContain(token);
      expect(printed.join('')).not.toMatch(/storage exploded|TypeError/);
    } finally {
      spy.mockRestore();
      await issuer.close();
      await inner.close();
    }
  });
});
