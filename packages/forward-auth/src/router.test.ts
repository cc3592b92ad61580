// The /oauth2 endpoints driven over HTTP without an issuer: sessions are sealed with the instance's own keys.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createForwardAuthHandler, type ForwardAuthHandler } from './router.ts';
import type { Session } from './session/payload.ts';
import { HOSTILE, WHITELIST } from './redirect.cases.ts';

const secret = randomBytes(32).toString('base64');
const base = {
  oidc_issuer_url: 'http://127.0.0.1:9/dex', // nothing listens: the issuer is down for these tests
  client_id: 'oauth2-proxy',
  client_secret: 'secret',
  redirect_url: 'https://app.example.com/oauth2/callback',
  cookie_secret: secret,
  cookie_domains: ['example.com'],
  email_domains: ['example.com'],
  set_xauthrequest: true,
  whitelist_domains: ['.example.com'],
};
const logger = pino({ level: 'silent' });
const make = (extra: Record<string, unknown> = {}) => createForwardAuthHandler({ ...base, ...extra }, { logger });

function sessionFor(h: ForwardAuthHandler, over: Partial<Session> = {}): Session {
  const now = Date.now();
  return {
    user: 'user-123',
    email: 'jane@example.com',
    preferredUsername: 'jane',
    groups: ['devs', 'ops'],
    createdAt: now,
    expiresAt: now + 3_600_000,
    idToken: 'header.payload.sig',
    accessToken: 'access-token-value',
    ...over,
  };
}

/** `name=value` pairs of the Set-Cookie headers, as a Cookie header. */
function cookieHeaderOf(setCookie: readonly string[]): string {
  return setCookie.map((c) => c.split(';')[0]).join('; ');
}

function seal(h: ForwardAuthHandler, over: Partial<Session> = {}): string {
  return cookieHeaderOf(h.context.sessions.seal(sessionFor(h, over), 'app.example.com', undefined).setCookie);
}

describe('/oauth2/auth', () => {
  const h = make();

  it('401 with no body and Content-Length 0 without a session', async () => {
    const r = await request(h).get('/oauth2/auth');
    expect(r.status).toBe(401);
    expect(r.headers['content-length']).toBe('0');
    expect(r.text).toBe('');
    expect(r.headers['x-auth-request-user']).toBeUndefined();
  });

  it('JSON 401 with an exact Content-Length for API requests', async () => {
    const r = await request(h).get('/oauth2/auth').set('Accept', 'text/html, application/json');
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
    expect(JSON.parse(r.text).error).toBe('unauthorized');
    const api = make({ api_routes: ['^/api/'], reverse_proxy: true });
    const r2 = await request(api).get('/oauth2/auth').set('X-Forwarded-Uri', '/api/things?x=1');
    expect(r2.headers['content-type']).toBe('application/json');
  });

  it('202 with identity headers from the session, Content-Length 0 and no body', async () => {
    const r = await request(h).get('/oauth2/auth').set('Cookie', seal(h));
    expect(r.status).toBe(202);
    expect(r.headers['content-length']).toBe('0');
    expect(r.text).toBe('');
    expect(r.headers['x-auth-request-user']).toBe('user-123');
    expect(r.headers['x-auth-request-email']).toBe('jane@example.com');
    expect(r.headers['x-auth-request-preferred-username']).toBe('jane');
    expect(r.headers['x-auth-request-groups']).toBe('devs,ops');
    expect(r.headers['x-auth-request-access-token']).toBeUndefined();
    expect(r.headers['transfer-encoding']).toBeUndefined();
  });

  it('passes the access token only with pass_access_token, and no headers without set_xauthrequest', async () => {
    const withToken = make({ pass_access_token: true });
    expect(
      (await request(withToken).get('/oauth2/auth').set('Cookie', seal(withToken))).headers[
        'x-auth-request-access-token'
      ],
    ).toBe('access-token-value');
    const bare = make({ set_xauthrequest: false });
    const r = await request(bare).get('/oauth2/auth').set('Cookie', seal(bare));
    expect(r.status).toBe(202);
    expect(r.headers['x-auth-request-user']).toBeUndefined();
  });

  it('rejects tampered, expired, foreign-key and renamed cookies', async () => {
    const good = seal(h).split('=')[1] as string;
    const tampered = `${good.slice(0, 20)}${good[20] === 'A' ? 'B' : 'A'}${good.slice(21)}`;
    const foreign = make({ cookie_secret: randomBytes(32).toString('base64') });
    for (const cookie of [
      `_oauth2_proxy=${tampered}`,
      seal(h, { expiresAt: Date.now() - 1000 }),
      seal(foreign),
      `other_cookie=${good}`,
      `_oauth2_proxy=${good.slice(0, 40)}`,
      '_oauth2_proxy=',
      '_oauth2_proxy=%%%%',
    ]) {
      expect((await request(h).get('/oauth2/auth').set('Cookie', cookie)).status, cookie.slice(0, 40)).toBe(401);
    }
  });

  it('reads cookies sealed under a rotated-out secret', async () => {
    const oldInstance = make();
    const cookie = seal(oldInstance);
    const rotated = make({ cookie_secret: randomBytes(32).toString('base64url'), cookie_secrets: [secret] });
    expect((await request(rotated).get('/oauth2/auth').set('Cookie', cookie)).status).toBe(202);
    expect(
      (
        await request(make({ cookie_secret: randomBytes(32).toString('base64') }))
          .get('/oauth2/auth')
          .set('Cookie', cookie)
      ).status,
    ).toBe(401);
  });

  it('keeps a session with 6 KB of similar group names in one cookie (deflated), without its id_token when needed', async () => {
    const groups = Array.from({ length: 250 }, (_, i) => `team-platform-engineering-${String(i).padStart(4, '0')}`);
    expect(groups.join(',').length).toBeGreaterThan(6000);
    const sealed = h.context.sessions.seal(sessionFor(h, { groups }), 'app.example.com', undefined);
    expect(sealed.written).toHaveLength(1);
    expect(sealed.written[0]).toMatch(/^_oauth2_proxy=/);
    const r = await request(h).get('/oauth2/auth').set('Cookie', cookieHeaderOf(sealed.setCookie));
    expect(r.status).toBe(202);
    expect(r.headers['x-auth-request-groups']).toBe(groups.join(','));
    // An id_token that cannot be compressed much (base64url of a JWT) is dropped rather than chunking the cookie.
    const idToken = `eyJ.${randomBytes(2400).toString('base64url')}.sig`;
    const withHint = h.context.sessions.seal(sessionFor(h, { groups, idToken }), 'app.example.com', undefined);
    expect(withHint.written).toHaveLength(1);
    expect(withHint.entry.session.idToken).toBeUndefined();
    const small = h.context.sessions.seal(sessionFor(h, { idToken: 'eyJ.small.sig' }), 'app.example.com', undefined);
    expect(small.entry.session.idToken).toBe('eyJ.small.sig');
  });

  it('splits a 6 KB session into chunks, rejoins them, and clears stale chunks', async () => {
    // Random names: nothing to deflate.
    const groups = Array.from({ length: 200 }, () => `g-${randomBytes(20).toString('base64url')}`);
    const sealed = h.context.sessions.seal(sessionFor(h, { groups }), 'app.example.com', undefined);
    expect(sealed.value.length).toBeGreaterThan(6000);
    expect(sealed.setCookie.length).toBeGreaterThanOrEqual(2);
    for (const c of sealed.setCookie) expect(c.length).toBeLessThanOrEqual(4000);
    expect(sealed.setCookie.map((c) => c.split('=')[0])).toEqual(sealed.setCookie.map((_, i) => `_oauth2_proxy_${i}`));
    const cookie = cookieHeaderOf(sealed.setCookie);
    const r = await request(h).get('/oauth2/auth').set('Cookie', cookie);
    expect(r.status).toBe(202);
    expect(r.headers['x-auth-request-groups']).toBe(groups.join(','));
    // A missing chunk breaks the value: 401.
    expect((await request(h).get('/oauth2/auth').set('Cookie', cookie.split('; ').slice(1).join('; '))).status).toBe(
      401,
    );
    // Re-sealing a small session over the chunked one deletes every chunk.
    const small = h.context.sessions.seal(sessionFor(h), 'app.example.com', cookie);
    expect(small.setCookie[0]).toMatch(/^_oauth2_proxy=/);
    const cleared = small.setCookie.slice(1).map((c) => c.split('=')[0]);
    expect(cleared.sort()).toEqual(sealed.setCookie.map((_, i) => `_oauth2_proxy_${i}`).sort());
    for (const c of small.setCookie.slice(1)) expect(c).toContain('Max-Age=0');
  });

  it('keeps the Domain a session was issued with for refreshes and clears from another Host', () => {
    const sealed = h.context.sessions.seal(sessionFor(h), 'app.example.com', undefined);
    expect(sealed.setCookie[0]).toContain('; Domain=example.com;');
    const loaded = h.context.sessions.load(cookieHeaderOf(sealed.setCookie));
    expect(loaded?.entry.session.cookieDomain).toBe('example.com');
    // nginx's auth subrequest may carry the service's own Host: the cookie must stay the same cookie.
    const again = h.context.sessions.seal(loaded!.entry.session, 'forward-auth.default.svc', undefined);
    expect(again.setCookie[0]).toContain('; Domain=example.com;');
    expect(h.context.sessions.clear('forward-auth.default.svc', undefined, loaded!.entry.session)[0]).toContain(
      '; Domain=example.com;',
    );
    expect(h.context.sessions.seal(sessionFor(h), 'other.org', undefined).setCookie[0]).not.toContain('Domain=');
  });

  it('enforces the per-Ingress query policy with 403', async () => {
    const cookie = seal(h);
    const cases: Array<[string, number]> = [
      ['allowed_groups=admins', 403],
      ['allowed_groups=admins,ops', 202],
      ['allowed_groups=admins&allowed_groups=devs', 202],
      ['allowed_emails=other@example.com', 403],
      ['allowed_emails=JANE@example.com', 202],
      ['allowed_email_domains=other.org', 403],
      ['allowed_email_domains=.example.com', 202],
      ['allowed_email_domains=example.com&allowed_groups=nobody', 403],
      ['unrelated=1', 202],
      ['allowed_groups=', 202],
    ];
    for (const [q, status] of cases) {
      const r = await request(h).get(`/oauth2/auth?${q}`).set('Cookie', cookie);
      expect(r.status, q).toBe(status);
      expect(r.headers['content-length']).toBe('0');
    }
  });

  it('401 and a cleared cookie when the session fails email_domains or allowed_groups', async () => {
    const strict = make({ allowed_groups: ['admins'] });
    const r = await request(strict).get('/oauth2/auth').set('Cookie', seal(strict));
    expect(r.status).toBe(401);
    expect(String(r.headers['set-cookie'])).toMatch(/_oauth2_proxy=; .*Max-Age=0/);
    const other = make({ email_domains: ['other.org'] });
    expect((await request(other).get('/oauth2/auth').set('Cookie', seal(other))).status).toBe(401);
  });

  it('skip_auth_routes apply to the trusted forwarded path only', async () => {
    const skip = make({ skip_auth_routes: ['GET=^/public/'], reverse_proxy: true });
    const ok = await request(skip)
      .get('/oauth2/auth')
      .set('X-Forwarded-Uri', '/public/x')
      .set('X-Forwarded-Method', 'GET');
    expect(ok.status).toBe(202);
    expect(ok.headers['x-auth-request-user']).toBeUndefined();
    expect((await request(skip).get('/oauth2/auth').set('X-Forwarded-Uri', '/private?next=/public/x')).status).toBe(
      401,
    );
    expect((await request(skip).get('/oauth2/auth').set('X-Forwarded-Uri', '/private%23/public/x')).status).toBe(401);
    expect(
      (await request(skip).get('/oauth2/auth').set('X-Forwarded-Uri', '/public/x').set('X-Forwarded-Method', 'POST'))
        .status,
    ).toBe(401);
    expect(
      (
        await request(skip)
          .get('/oauth2/auth')
          .set('X-Forwarded-Uri', '/public/../admin')
          .set('X-Forwarded-Method', 'GET')
      ).status,
    ).toBe(401);
    const untrusted = make({ skip_auth_routes: ['^/public/'], reverse_proxy: true, trusted_proxy_ips: ['10.9.9.9'] });
    expect((await request(untrusted).get('/oauth2/auth').set('X-Forwarded-Uri', '/public/x')).status).toBe(401);
    const notProxy = make({ skip_auth_routes: ['^/public/'] });
    expect((await request(notProxy).get('/oauth2/auth').set('X-Forwarded-Uri', '/public/x')).status).toBe(401);
  });

  it('a method rule needs the original method from the trusted proxy: missing, repeated or contradictory is no match', async () => {
    const skip = make({ skip_auth_routes: ['GET=^/public/'], reverse_proxy: true });
    const check = (headers: Record<string, string | string[]>) => {
      const r = request(skip).get('/oauth2/auth');
      for (const [k, v] of Object.entries(headers)) r.set(k, v as string);
      return r.then((res) => res.status);
    };
    expect(await check({ 'X-Original-Method': 'GET', 'X-Original-URL': 'https://app.example.com/public/x' })).toBe(202);
    expect(await check({ 'X-Forwarded-Uri': '/public/x', 'X-Original-Method': 'get' })).toBe(202);
    // The subrequest itself is a GET: that says nothing about the original method.
    expect(await check({ 'X-Forwarded-Uri': '/public/x' })).toBe(401);
    expect(
      await check({ 'X-Forwarded-Uri': '/public/x', 'X-Forwarded-Method': 'GET', 'X-Original-Method': 'POST' }),
    ).toBe(401);
    expect(await check({ 'X-Forwarded-Uri': '/public/x', 'X-Forwarded-Method': ['GET', 'POST'] })).toBe(401);
    expect(await check({ 'X-Forwarded-Uri': '/public/x', 'X-Forwarded-Method': 'GET, POST' })).toBe(401);
    expect(await check({ 'X-Forwarded-Uri': '/public/x', 'X-Forwarded-Method': 'G3T' })).toBe(401);
    // ingress-nginx sets X-Original-URL and passes a client's X-Forwarded-Uri: they must agree.
    expect(
      await check({
        'X-Forwarded-Uri': '/public/x',
        'X-Original-URL': 'https://app.example.com/admin',
        'X-Original-Method': 'GET',
      }),
    ).toBe(401);
    expect(
      await check({
        'X-Forwarded-Uri': '/public/x',
        'X-Original-URL': 'https://app.example.com/public/x',
        'X-Original-Method': 'GET',
      }),
    ).toBe(202);
    expect(
      await check({ 'X-Original-URL': 'https://app.example.com/public/../admin', 'X-Original-Method': 'GET' }),
    ).toBe(401);
    // The path of X-Original-URL starts after a plain host[:port]; any other authority is ambiguous (issue 11).
    expect(await check({ 'X-Original-URL': 'https://app.example.com:8443/public/x', 'X-Original-Method': 'GET' })).toBe(
      202,
    );
    for (const url of [
      'https://app.example.com%C1%9C/public/x',
      'https://u@app.example.com/public/x',
      'https://app.example.com\\/public/x',
      'javascript://x/public/x',
      'https://app.example.com//public/x',
      'https://app.example.com/public/x%23/../../admin',
    ]) {
      expect(await check({ 'X-Original-URL': url, 'X-Original-Method': 'GET' }), url).toBe(401);
    }
    expect(await check({ 'X-Forwarded-Uri': ['/public/x', '/admin'], 'X-Original-Method': 'GET' })).toBe(401);
    // A trusted proxy that names no URI: our own /oauth2/auth path is not the original request's.
    const any = make({ skip_auth_routes: ['^/oauth2/'], reverse_proxy: true });
    expect((await request(any).get('/oauth2/auth')).status).toBe(401);
  });

  it('ignores non-JWT or invalid bearer tokens (issuer down) with 401', async () => {
    const bearer = make({ skip_jwt_bearer_tokens: true });
    for (const auth of [
      'Bearer abc',
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
      'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      'Basic Zm9vOmJhcg==',
    ]) {
      expect((await request(bearer).get('/oauth2/auth').set('Authorization', auth)).status, auth).toBe(401);
    }
  });
});

describe('identity headers sent by a client', () => {
  const h = make();
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer(h);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** A raw HTTP/1.1 exchange, so header spellings and duplicates reach the server exactly as written. */
  function raw(lines: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.write(
        `GET /oauth2/auth HTTP/1.1\r\nHost: fa\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`,
      );
    });
  }

  const spoofed = [
    'X-Auth-Request-Email: boss@example.com',
    'x-auth-request-email: boss@example.com',
    'X-AUTH-REQUEST-USER: boss',
    'X_Auth_Request_Email: boss@example.com',
    'X_Auth_Request_User: boss',
    'X-Auth-Request-User: boss',
    'X-Auth-Request-User: boss2',
    'X-Auth-Request-Groups: admins',
    'X-Forwarded-User: boss',
    'X-Forwarded-Email: boss@example.com',
    'Authorization: Basic Ym9zczpwdw==',
  ];

  it('never turns them into identity without a session', async () => {
    const res = await raw(spoofed);
    expect(res).toMatch(/^HTTP\/1\.1 401/);
    expect(res.toLowerCase()).not.toContain('boss');
    expect(res.toLowerCase()).not.toContain('x-auth-request');
  });

  it('answers with the session identity only, once per header', async () => {
    const res = await raw([...spoofed, `Cookie: ${seal(h)}`]);
    expect(res).toMatch(/^HTTP\/1\.1 202/);
    expect(res.toLowerCase()).not.toContain('boss');
    expect(res.match(/^X-Auth-Request-Email: jane@example\.com$/gim)?.length).toBe(1);
    expect(res.match(/^X-Auth-Request-User: user-123$/gim)?.length).toBe(1);
    expect(res).not.toMatch(/admins/);
  });

  it('drops session values that would split headers, and sends UTF-8 as bytes', async () => {
    const evil = h.context.sessions.entryFor(
      sessionFor(h, { preferredUsername: 'x\r\nX-Injected: 1', email: 'jane@example.com', user: 'jösé' }),
    ).headers;
    expect(evil.join('\n')).not.toContain('X-Injected');
    const res = await raw([`Cookie: ${seal(h, { user: 'jösé', preferredUsername: 'a\nb' })}`]);
    expect(res).toMatch(/^HTTP\/1\.1 202/);
    expect(Buffer.from(res, 'latin1').toString('utf8')).toContain('X-Auth-Request-User: jösé');
    expect(res).not.toMatch(/Preferred-Username/);
  });
});

describe('bad input on every endpoint: 4xx pages, never 500', () => {
  const h = make();

  it('callback without code/state, repeated parameters, wrong method, upstream error, missing CSRF cookie', async () => {
    const cases: Array<[string, string, number]> = [
      ['GET', '/oauth2/callback', 400],
      ['GET', '/oauth2/callback?code=abc', 400],
      ['GET', '/oauth2/callback?state=abcdefghijklmnopqrstuvwxyz', 400],
      ['GET', '/oauth2/callback?code=a&state=b&state=c', 400],
      ['POST', '/oauth2/callback?code=a&state=b', 405],
      ['GET', '/oauth2/callback?error=access_denied&state=x', 403],
      ['GET', '/oauth2/callback?error=%3Cscript%3E&state=x', 403],
      ['GET', '/oauth2/callback?code=abc&state=abcdefghijklmnopqrstuvwxyz', 403],
      ['GET', '/oauth2/callback?code=abc&state=%00%01%02', 403],
      ['GET', `/oauth2/callback?code=abc&state=${'x'.repeat(5000)}`, 400],
    ];
    for (const [method, path, status] of cases) {
      const r = await request(h)[method === 'GET' ? 'get' : 'post'](path);
      expect(r.status, `${method} ${path.slice(0, 60)}`).toBe(status);
      expect(r.headers['content-type']).toMatch(/text\/html/);
      expect(r.text).not.toContain('<script>');
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
    }
  });

  it('start with the issuer down: 502 page, no CSRF cookie', async () => {
    const r = await request(h).get('/oauth2/start?rd=/x');
    expect(r.status).toBe(502);
    expect(r.text).toContain('cannot be reached');
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('sign_out without a session, with hostile or valid rd', async () => {
    expect((await request(h).get('/oauth2/sign_out')).headers.location).toBe('/');
    expect((await request(h).get('/oauth2/sign_out?rd=//evil.com')).headers.location).toBe('/');
    expect((await request(h).get('/oauth2/sign_out?rd=https://a.example.com/bye')).headers.location).toBe(
      'https://a.example.com/bye',
    );
    const r = await request(h)
      .get('/oauth2/sign_out')
      .set('Cookie', `${seal(h)}; _oauth2_proxy_1=stale`);
    expect(r.status).toBe(302);
    const cleared = (r.headers['set-cookie'] as unknown as string[]).map((c) => c.split('=')[0]);
    expect(cleared).toEqual(expect.arrayContaining(['_oauth2_proxy', '_oauth2_proxy_1']));
  });

  it('a signed-out cookie is refused afterwards by this instance', async () => {
    const cookie = seal(h);
    expect((await request(h).get('/oauth2/auth').set('Cookie', cookie)).status).toBe(202);
    await request(h).get('/oauth2/sign_out').set('Cookie', cookie);
    expect((await request(h).get('/oauth2/auth').set('Cookie', cookie)).status).toBe(401);
  });

  it('userinfo, ping, ready, metrics, sign_in, unknown paths', async () => {
    expect((await request(h).get('/oauth2/userinfo')).status).toBe(401);
    const info = await request(h).get('/oauth2/userinfo').set('Cookie', seal(h));
    expect(info.body).toEqual({
      user: 'user-123',
      email: 'jane@example.com',
      groups: ['devs', 'ops'],
      preferredUsername: 'jane',
    });
    expect((await request(h).get('/ping')).text).toBe('OK');
    expect((await request(h).get('/ready')).status).toBe(503);
    const m = await request(h).get('/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('gatehouse_forward_auth_requests_total');
    const signIn = await request(h).get('/oauth2/sign_in?rd=//evil.com');
    expect(signIn.status).toBe(200);
    expect(signIn.text).toContain('/oauth2/start?rd=%2F');
    expect((await request(h).get('/nope')).status).toBe(404);
    expect((await request(h).get('/oauth2/auth/../start')).status).toBe(404);
    expect((await request(h).get('/oauth2/auth').set('Cookie', 'a'.repeat(8000))).status).toBe(401);
  });
});

describe('HTML pages and methods', () => {
  const h = make();
  const CSP = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

  function expectHardened(r: request.Response, what: string): void {
    expect(r.headers['content-type'], what).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy'], what).toBe(CSP);
    expect(r.headers['x-frame-options'], what).toBe('DENY');
    expect(r.headers['x-content-type-options'], what).toBe('nosniff');
    expect(r.headers['referrer-policy'], what).toBe('no-referrer');
    expect(r.headers['cache-control'], what).toMatch(/no-store/);
    expect(r.text, what).not.toMatch(/style=|<style|<script|\son\w+=/i);
  }

  it('every HTML page has a strict CSP, no framing, no sniffing, no referrer, no inline style or script', async () => {
    expectHardened(await request(h).get('/oauth2/sign_in?rd=/x'), 'sign_in');
    expectHardened(await request(h).get('/oauth2/start'), 'start, issuer down (502)');
    expectHardened(await request(h).get('/oauth2/callback'), 'callback 400');
    expectHardened(await request(h).get('/oauth2/callback?error=access_denied&state=x'), 'callback 403');
    expectHardened(await request(h).put('/oauth2/start'), 'start 405');
  });

  it('the linked stylesheet is served from under the prefix', async () => {
    const page = await request(h).get('/oauth2/sign_in');
    const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page.text)?.[1] as string;
    const css = await request(h).get(new URL(href, 'http://x/oauth2/sign_in').pathname);
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['x-content-type-options']).toBe('nosniff');
  });

  it('start, sign_in and callback answer GET and HEAD only; sign_out GET, HEAD and POST; 405 carries Allow', async () => {
    const cases: Array<[string, string, string]> = [
      ['POST', '/oauth2/start', 'GET, HEAD'],
      ['PUT', '/oauth2/start', 'GET, HEAD'],
      ['DELETE', '/oauth2/start', 'GET, HEAD'],
      ['OPTIONS', '/oauth2/start', 'GET, HEAD'],
      ['POST', '/oauth2/sign_in', 'GET, HEAD'],
      ['POST', '/oauth2/callback?code=a&state=b', 'GET, HEAD'],
      ['PUT', '/oauth2/sign_out', 'GET, HEAD, POST'],
      ['DELETE', '/oauth2/sign_out', 'GET, HEAD, POST'],
      ['PATCH', '/oauth2/sign_out', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await request(h)[method.toLowerCase() as 'put'](path);
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.allow, `${method} ${path}`).toBe(allow);
    }
    expect((await request(h).head('/oauth2/sign_in')).status).toBe(200);
    expect((await request(h).post('/oauth2/sign_out')).status).toBe(302);
  });

  it('sign_out with a session never redirects to a hostile rd and never answers 5xx (issuer down)', async () => {
    const w = make({ whitelist_domains: WHITELIST });
    for (const c of HOSTILE.filter((x) => x.expect === 'reject')) {
      for (const method of ['get', 'post'] as const) {
        const cookie = seal(w);
        const agent = request(w);
        const r = agent[method](`/oauth2/sign_out?rd=${encodeURIComponent(c.rd)}`).set('Cookie', cookie);
        // The header as well, when the value can be sent as one unchanged.
        if (/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(c.rd)) void r.set('X-Auth-Request-Redirect', c.rd);
        const res = await r;
        expect(res.status, `${method} ${c.why}`).toBe(302);
        expect(res.headers.location, `${method} ${c.why}`).toBe('/');
        expect((await request(w).get('/oauth2/auth').set('Cookie', cookie)).status, c.why).toBe(401);
      }
    }
  });
});
