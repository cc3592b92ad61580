// Session refresh during nginx's auth subrequest, through deploy/nginx/gatehouse.conf.template, against the real
// issuer. nginx passes only the FIRST Set-Cookie of the subrequest ($upstream_http_set_cookie), and only with
// `add_header ... always` on a 4xx/5xx answer of the app: a session with many groups must survive a refresh.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_KIT_VERSION, type ConnectorFactory, type Identity } from '@gatehouse/connector-kit';
import { CookieJar } from '@gatehouse/issuer/testing';
import type { Nginx } from '@gatehouse/testkit/nginx';
import type { Session } from '../src/index.ts';
import { signIn, startHarness, type Harness } from './harness.ts';
import { HOST, addr, close, listen, send, startTemplateNginx, type Answer } from './nginx-client.ts';

/** The groups the next login (and every refresh) gets from the upstream. */
let upstreamGroups: string[] = [];

/** A callback connector like mockCallback, whose user is in `upstreamGroups`. */
const manyGroups: ConnectorFactory<Record<string, never>> = {
  type: 'manyGroups',
  kitVersion: CONNECTOR_KIT_VERSION,
  configSchema: z.strictObject({}),
  open: () => {
    const user = (): Identity => ({
      userId: 'u-1',
      username: 'Many Groups',
      email: 'many@example.com',
      emailVerified: true,
      groups: [...upstreamGroups],
    });
    return {
      kind: 'callback',
      async loginURL(_scopes, callbackURL, state) {
        const url = new URL(callbackURL);
        url.searchParams.set('state', state);
        return { url: url.href, keep: { state } };
      },
      async handleCallback(_scopes, kept, request) {
        if ((kept as { state?: unknown }).state !== request.url.searchParams.get('state'))
          throw new Error('state mismatch');
        return user();
      },
      async refresh(_scopes, identity) {
        return { ...user(), connectorData: identity.connectorData };
      },
    };
  },
};

let h: Harness;
let app: Server;
let nginx: Nginx;
let ca: string;
const appSaw: { url: string; groups: string | undefined }[] = [];

beforeAll(async () => {
  h = await startHarness(
    { cookie_refresh: '5m', reverse_proxy: true },
    {
      connectors: [{ type: 'manyGroups', id: 'mock', name: 'Many groups', config: {} }],
      connectorFactories: [manyGroups],
    },
  );
  app = await listen((req, res) => {
    const groups = req.headers['x-auth-request-groups'];
    appSaw.push({ url: req.url ?? '', groups: typeof groups === 'string' ? groups : undefined });
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' }).end('app');
  });
  ({ nginx, ca } = await startTemplateNginx({
    forwardAuth: new URL(h.fa.url).host,
    issuer: new URL(h.issuer.issuerURL).host,
    app: addr(app),
  }));
}, 60_000);

afterAll(async () => {
  await nginx?.stop();
  await close(app);
  await h?.close();
});

const refreshes = () => h.issuerGrants.filter((g) => g === 'refresh_token').length;
const NAVIGATE = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' };
const FETCH = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const go = (path: string, cookie: string, headers: Record<string, string> = NAVIGATE) =>
  send(nginx.httpsPort, ca, 'GET', path, { cookie, ...headers });
const setCookies = (r: Answer) => r.headers['set-cookie'] ?? [];
const cookieHeader = (setCookie: readonly string[]) => setCookie.map((c) => c.split(';')[0]).join('; ');

/** Signs in with `groups` and returns the session's cookie as if issued ten minutes ago (a refresh is due). */
async function agedSession(groups: string[]): Promise<{ cookie: string; session: Session }> {
  upstreamGroups = groups;
  const jar = new CookieJar();
  await signIn(h, jar);
  const loaded = h.fa.handler.context.sessions.load(jar.header(`${h.fa.url}/app`));
  if (loaded === undefined) throw new Error('no session after sign-in');
  expect(loaded.entry.session.groups).toEqual(groups);
  const sealed = h.fa.handler.context.sessions.seal(
    { ...loaded.entry.session, createdAt: Date.now() - 10 * 60_000 },
    undefined,
    undefined,
  );
  return { cookie: cookieHeader(sealed.written), session: loaded.entry.session };
}

describe('cookie refresh through nginx', () => {
  it('a session with 7 KB of groups stays in one cookie and survives its refresh (one Set-Cookie)', async () => {
    const groups = Array.from(
      { length: 250 },
      (_, i) => `cn=team-platform-engineering-${String(i).padStart(4, '0')},ou=groups`,
    );
    expect(groups.join(',').length).toBeGreaterThan(7000);
    const { cookie } = await agedSession(groups);
    const before = refreshes();
    const r = await go('/page', cookie);
    expect(r.status).toBe(200);
    expect(refreshes() - before).toBe(1);
    expect(setCookies(r)).toHaveLength(1);
    expect(setCookies(r)[0]).toMatch(/^_oauth2_proxy=[^;]+; /);
    expect(appSaw.at(-1)).toEqual({ url: '/page', groups: groups.join(',') });

    const next = await go('/page', cookieHeader(setCookies(r)));
    expect(next.status).toBe(200);
    expect(setCookies(next)).toEqual([]);
    expect(appSaw.at(-1)?.groups).toBe(groups.join(','));
    expect(refreshes() - before).toBe(1);
  });

  it('a session too large for one cookie: API calls go on from the new session, a page load collects the chunks at /oauth2/start', async () => {
    const groups = Array.from({ length: 200 }, () => `g-${randomBytes(21).toString('base64url')}`);
    const { cookie } = await agedSession(groups);
    expect(cookie).toMatch(/^_oauth2_proxy_0=/);
    const before = refreshes();

    // An API call refreshes the session but cannot carry its chunks: the app still answers, without a cookie.
    const api = await go('/api/items', cookie, FETCH);
    expect(api.status).toBe(200);
    expect(setCookies(api)).toEqual([]);
    expect(appSaw.at(-1)).toEqual({ url: '/api/items', groups: groups.join(',') });
    expect(refreshes() - before).toBe(1);

    // A page load with the old cookie goes through /oauth2/start, which sets every chunk and returns at once.
    const page = await go('/page?x=1', cookie);
    expect(page.status).toBe(302);
    expect(page.headers.location).toMatch(new RegExp(`^https://${HOST}:\\d+/oauth2/start\\?rd=/page`));
    const start = await go(
      new URL(page.headers.location as string).pathname + new URL(page.headers.location as string).search,
      cookie,
    );
    expect(start.status).toBe(302);
    expect(start.headers.location).toBe('/page');
    const chunks = setCookies(start).filter((c) => !c.includes('Max-Age=0'));
    expect(chunks.map((c) => c.split('=')[0])).toEqual(chunks.map((_, i) => `_oauth2_proxy_${i}`));
    expect(chunks.length).toBeGreaterThanOrEqual(2);

    const after = await go('/page', cookieHeader(chunks));
    expect(after.status).toBe(200);
    expect(setCookies(after)).toEqual([]);
    expect(appSaw.at(-1)).toEqual({ url: '/page', groups: groups.join(',') });
    expect(refreshes() - before).toBe(1);
  });

  it('a chunked session refreshed into one cookie: a page load also clears the old chunks (through /oauth2/start)', async () => {
    const { cookie } = await agedSession(
      Array.from({ length: 200 }, () => `g-${randomBytes(21).toString('base64url')}`),
    );
    expect(cookie).toMatch(/^_oauth2_proxy_0=/);
    upstreamGroups = ['readers']; // the next refresh finds far fewer groups
    const before = refreshes();
    const api = await go('/api/items', cookie, FETCH);
    expect(api.status).toBe(200);
    expect(setCookies(api)).toHaveLength(1);
    expect(setCookies(api)[0]).toMatch(/^_oauth2_proxy=[^;]+; /);
    expect(appSaw.at(-1)).toEqual({ url: '/api/items', groups: 'readers' });

    const page = await go('/page', cookie);
    expect(page.status).toBe(302);
    const start = await go(
      new URL(page.headers.location as string).pathname + new URL(page.headers.location as string).search,
      cookie,
    );
    expect(start.headers.location).toBe('/page');
    const names = setCookies(start).map((c) => `${c.split('=')[0]}${c.includes('Max-Age=0') ? ' cleared' : ''}`);
    expect(names[0]).toBe('_oauth2_proxy');
    expect(names.slice(1).every((n) => /^_oauth2_proxy_\d+ cleared$/.test(n))).toBe(true);
    expect(names.length).toBeGreaterThanOrEqual(3);
    const after = await go('/page', cookieHeader(setCookies(start).filter((c) => !c.includes('Max-Age=0'))));
    expect(after.status).toBe(200);
    expect(refreshes() - before).toBe(1);
  });

  it('a refresh due on a request the app answers 404 still delivers the new cookie (add_header ... always)', async () => {
    const { cookie } = await agedSession(['readers']);
    const before = refreshes();
    const r = await go('/missing', cookie);
    expect(r.status).toBe(404);
    expect(refreshes() - before).toBe(1);
    expect(setCookies(r)).toHaveLength(1);
    const fresh = cookieHeader(setCookies(r));
    expect(fresh).not.toBe(cookie);
    const next = await go('/page', fresh);
    expect(next.status).toBe(200);
    expect(setCookies(next)).toEqual([]);
    expect(refreshes() - before).toBe(1);
  });
});
