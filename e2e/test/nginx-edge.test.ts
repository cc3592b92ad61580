// The nginx template on its own: what it does with the auth subrequest's answer, independent of forward-auth.
// The "auth service" here is a decision table (cookie → status + headers), recording what nginx sent it;
// the real forward-auth and issuer run in flow.test.ts.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityApp, type AppAnswer, type IdentityApp } from '../apps/identity-app.ts';
import { chromiumAvailable, launchBrowser, type TestBrowser } from '../src/browser.ts';
import { makeEdgeTLS, PUBLIC_HOST, startEdge, type Edge, type EdgeTLS } from '../src/edge.ts';
import { httpsRequest } from '../src/https-client.ts';

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  bodyBytes: number;
}

async function listen(
  handler: (
    req: IncomingMessage,
    body: string,
  ) => { status: number; headers?: Record<string, string | string[]>; body?: string },
  seen: Seen[],
): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, bodyBytes: Buffer.byteLength(body) });
      const out = handler(req, body);
      res.writeHead(out.status, out.headers);
      res.end(out.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

const addr = (s: Server) => `127.0.0.1:${(s.address() as AddressInfo).port}`;
const close = (s: Server | undefined) => new Promise<void>((r) => (s ? s.close(() => r()) : r()));

describe('nginx template (deploy/nginx/gatehouse.conf.template)', () => {
  const secret = 'nginx-edge-test-proxy-secret';
  const authSeen: Seen[] = [];
  const issuerSeen: Seen[] = [];
  let auth: Server;
  let issuer: Server;
  let app: IdentityApp;
  let tls: EdgeTLS;
  let edge: Edge;

  beforeAll(async () => {
    auth = await listen((req) => {
      const cookie = req.headers.cookie ?? '';
      if (req.url?.startsWith('/oauth2/start')) return { status: 200, body: `start ${req.url}` };
      if (req.url !== '/oauth2/auth') return { status: 200, body: `forward-auth ${req.url}` };
      if (cookie.includes('session=denied')) return { status: 403 };
      if (!cookie.includes('session=ok')) return { status: 401 };
      const headers: Record<string, string | string[]> = {
        'X-Auth-Request-User': 'u-1',
        'X-Auth-Request-Email': 'ada@example.com',
        'X-Auth-Request-Preferred-Username': 'ada',
        'X-Auth-Request-Groups': 'eng,ops',
      };
      if (cookie.includes('refresh=due'))
        headers['Set-Cookie'] = '_oauth2_proxy=renewed; Path=/; Secure; HttpOnly; SameSite=Lax';
      return { status: 202, headers };
    }, authSeen);
    issuer = await listen((req) => ({ status: 200, body: `issuer ${req.url}` }), issuerSeen);
    app = await startIdentityApp({ proxySecret: secret });
    tls = await makeEdgeTLS();
    edge = await startEdge({
      tls,
      forwardAuthAddr: addr(auth),
      issuerAddr: addr(issuer),
      appAddr: app.addr,
      appProxySecret: secret,
    });
  });

  afterAll(async () => {
    await edge?.stop();
    await app?.stop();
    await close(auth);
    await close(issuer);
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) =>
    httpsRequest(edge.origin, path, { ca: tls.caCert, headers, method, body });

  it('answers a 401 from the check with a 302 to /oauth2/start?rd=<uri>, never reaching the app', async () => {
    const before = app.requests.length;
    const res = await get('/gemini-rl');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${edge.origin}/oauth2/start?rd=/gemini-rl`);
    expect(app.requests.length).toBe(before);
  });

  it('keeps the path in rd when the query would need escaping, and falls back to / otherwise', async () => {
    expect((await get('/gemini-rl?a=1&b=2')).headers.location).toBe(`${edge.origin}/oauth2/start?rd=/gemini-rl`);
    expect((await get('/a%20b')).headers.location).toBe(`${edge.origin}/oauth2/start?rd=/`);
  });

  it('sends the check X-Forwarded-Host/Uri/Proto/Method and the cookies, without the body or client identity headers', async () => {
    authSeen.length = 0;
    await get(
      '/upload?x=1',
      {
        cookie: 'session=ok; other=1',
        'x-auth-request-email': 'mallory@evil.test',
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/public/x',
        'content-type': 'text/plain',
      },
      'POST',
      'a body that must not reach the check',
    );
    const check = authSeen.find((s) => s.path === '/oauth2/auth');
    expect(check).toBeDefined();
    expect(check?.headers['x-forwarded-host']).toBe(`${PUBLIC_HOST}:${edge.nginx.httpsPort}`);
    expect(check?.headers['x-forwarded-uri']).toBe('/upload?x=1');
    expect(check?.headers['x-forwarded-proto']).toBe('https');
    // The subrequest is a GET: the original method goes in both spellings, replacing what the client sent.
    expect(check?.headers['x-forwarded-method']).toBe('POST');
    expect(check?.headers['x-original-method']).toBe('POST');
    expect(check?.headers.cookie).toBe('session=ok; other=1');
    expect(check?.headers['x-auth-request-email']).toBeUndefined();
    expect(check?.headers['content-length']).toBeUndefined();
    expect(check?.bodyBytes).toBe(0);
  });

  it('injects the check headers into the app request, replacing what the client sent', async () => {
    const res = await get('/gemini-rl', {
      cookie: 'session=ok',
      'x-auth-request-email': 'mallory@evil.test',
      'x-auth-request-user': 'mallory',
      'x-gatehouse-proxy-secret': 'guessing',
    });
    expect(res.status).toBe(200);
    const answer = JSON.parse(res.body) as AppAnswer;
    expect(answer).toEqual({
      user: 'ada@example.com',
      path: '/gemini-rl',
      viaProxy: true,
      identity: { user: 'u-1', email: 'ada@example.com', preferredUsername: 'ada', groups: ['eng', 'ops'] },
    });
    expect(app.requests.at(-1)?.emailHeader).toBe('ada@example.com');
  });

  it('answers a 403 from the check (signed in, not allowed) with 403, not a login loop', async () => {
    const before = app.requests.length;
    const res = await get('/gemini-rl', { cookie: 'session=denied' });
    expect(res.status).toBe(403);
    expect(res.headers.location).toBeUndefined();
    expect(app.requests.length).toBe(before);
  });

  it('passes a Set-Cookie from the check (a refreshed session) to the browser', async () => {
    const res = await get('/gemini-rl', { cookie: 'session=ok; refresh=due' });
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toEqual(['_oauth2_proxy=renewed; Path=/; Secure; HttpOnly; SameSite=Lax']);
  });

  it('routes /oauth2/ and /dex/ without a check; the internal check location is not reachable', async () => {
    const before = (await edge.authSubrequests()).length;
    const start = await get('/oauth2/start?rd=/gemini-rl');
    expect(start.body).toBe('start /oauth2/start?rd=/gemini-rl');
    const dex = await get('/dex/.well-known/openid-configuration');
    expect(dex.body).toBe('issuer /dex/.well-known/openid-configuration');
    await get('/marker', { cookie: 'session=ok' }); // an app path: its check line follows the others
    const lines = await edge.authChecksAfter(before, '/marker');
    expect(lines.filter((l) => /for="\/(oauth2|dex)\//.test(l))).toEqual([]);
    expect(lines.some((l) => l.includes('for="/marker" auth=202'))).toBe(true);
    expect((await get('/_gatehouse_auth')).status).toBe(404); // internal: nginx alone may use it
    expect(issuerSeen.at(-1)?.headers['x-forwarded-proto']).toBe('https');
  });

  it('logs one line per auth subrequest, without query strings', async () => {
    const before = (await edge.authSubrequests()).length;
    await get('/log-check?code=secret-code', { cookie: 'session=ok' });
    const lines = (await edge.authChecksAfter(before, '/log-check')).filter((l) => l.includes('for="/log-check"'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/"GET \/_gatehouse_auth" for="\/log-check" auth=202/);
    const all = (await edge.nginx.readLog('access.log')) + (await edge.authSubrequests()).join('\n');
    expect(all).not.toContain('secret-code');
  });

  it('the app called directly (around nginx) trusts no identity header', async () => {
    const res = await fetch(`${app.url}/gemini-rl`, {
      headers: { 'x-auth-request-email': 'mallory@evil.test', 'x-auth-request-user': 'mallory' },
    });
    expect((await res.json()) as AppAnswer).toEqual({
      user: null,
      path: '/gemini-rl',
      viaProxy: false,
      identity: null,
    });
  });

  it.runIf(chromiumAvailable())(
    'serves Chromium over TLS on the test host name, trusted by key hash',
    async () => {
      let browser: TestBrowser | undefined;
      try {
        browser = await launchBrowser({ hosts: [PUBLIC_HOST], trustedCerts: [tls.cert] });
        const context = await browser.newContext();
        await context.addCookies([
          { name: 'session', value: 'ok', domain: PUBLIC_HOST, path: '/', secure: true, httpOnly: true },
        ]);
        const page = await context.newPage();
        const res = await page.goto(`${edge.origin}/gemini-rl`);
        expect(res?.status()).toBe(200);
        expect(await page.locator('h1').textContent()).toBe('Hello, ada@example.com');
        const answer = JSON.parse((await page.locator('#identity').textContent()) ?? '') as AppAnswer;
        expect(answer.identity?.preferredUsername).toBe('ada');
        expect(app.requests.at(-1)?.hadCookie).toBe(true);
      } finally {
        await browser?.close();
      }
    },
    60_000,
  );
});
