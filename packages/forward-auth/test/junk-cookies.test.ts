// A browser carrying hundreds of cookies named like ours (junk, or tossed by another site under the same domain)
// through nginx with deploy/nginx/gatehouse.conf.template: every response stays within nginx's proxy buffers (one
// deletion per cookie would not: 502), the sign-in still works, and later responses clear the rest.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '@gatehouse/issuer/testing';
import type { Nginx } from '@gatehouse/testkit/nginx';
import { MAX_DELETIONS_PER_RESPONSE } from '../src/session/cookies.ts';
import { signIn, startHarness, type Harness } from './harness.ts';
import { addr, close, listen, send, startTemplateNginx, type Answer } from './nginx-client.ts';

let h: Harness;
let app: Server;
let nginx: Nginx;
let ca: string;

beforeAll(async () => {
  h = await startHarness({ reverse_proxy: true });
  app = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app'));
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

/** A cookie name of the CSRF pattern (`<cookie_name>_<12 base64url>_csrf`) with an unreadable value. */
const junkCSRF = () =>
  `_oauth2_proxy_${randomBytes(9).toString('base64url')}_csrf=${randomBytes(12).toString('base64url')}`;
const setCookies = (r: Answer) => r.headers['set-cookie'] ?? [];

/** The browser's cookies after a response: deletions remove, other Set-Cookies replace or add. */
function apply(jar: Map<string, string>, r: Answer): void {
  for (const c of setCookies(r)) {
    const [pair] = c.split(';');
    const eq = (pair as string).indexOf('=');
    const name = (pair as string).slice(0, eq);
    if (/Max-Age=0/.test(c)) jar.delete(name);
    else jar.set(name, (pair as string).slice(eq + 1));
  }
}
const header = (jar: Map<string, string>) => [...jar].map(([n, v]) => `${n}=${v}`).join('; ');

describe('150 cookies named like CSRF cookies, through nginx', () => {
  it('/oauth2/start answers a redirect with a bounded number of deletions; a few starts clear them all', async () => {
    const jar = new Map<string, string>();
    for (let i = 0; i < 150; i++) {
      const [name, value] = junkCSRF().split('=') as [string, string];
      jar.set(name, value);
    }
    const first = await send(nginx.httpsPort, ca, 'GET', '/oauth2/start?rd=%2Fapp', { cookie: header(jar) });
    expect(first.status).toBe(302);
    expect(first.headers.location).toMatch(new RegExp(`^${h.issuer.issuerURL}`));
    expect(setCookies(first).length).toBeLessThanOrEqual(1 + MAX_DELETIONS_PER_RESPONSE);
    apply(jar, first);
    let starts = 1;
    while ([...jar.keys()].filter((n) => n.endsWith('_csrf')).length > 5 && starts < 40) {
      const r = await send(nginx.httpsPort, ca, 'GET', '/oauth2/start?rd=%2Fapp', { cookie: header(jar) });
      expect(r.status).toBe(302);
      apply(jar, r);
      starts++;
    }
    expect([...jar.keys()].filter((n) => n.endsWith('_csrf')).length).toBeLessThanOrEqual(5);
    // Each start deletes MAX_DELETIONS_PER_RESPONSE and adds its own flow cookie.
    expect(starts).toBeLessThanOrEqual(Math.ceil(150 / (MAX_DELETIONS_PER_RESPONSE - 1)) + 1);
  });

  it('sign-out with 150 junk CSRF cookies and 90 junk chunk names answers a redirect, not a 502', async () => {
    const junk = [
      ...Array.from({ length: 150 }, junkCSRF),
      ...Array.from({ length: 90 }, (_, i) => `_oauth2_proxy_${i + 10}=x`),
    ];
    const r = await send(nginx.httpsPort, ca, 'GET', '/oauth2/sign_out?rd=%2F', { cookie: junk.join('; ') });
    expect(r.status).toBe(302);
    expect(setCookies(r).length).toBeLessThanOrEqual(2 * MAX_DELETIONS_PER_RESPONSE + 1);
  });

  it('the sign-in of that browser completes on its first try', async () => {
    const jar = new CookieJar();
    for (let i = 0; i < 150; i++)
      jar.store(`${h.fa.url}/`, new Response(null, { headers: { 'set-cookie': `${junkCSRF()}; Path=/` } }));
    const done = await signIn(h, jar);
    expect(done.status).toBe(302);
    const cookie = jar.header(`${h.fa.url}/app`);
    expect(cookie).toMatch(/(^|; )_oauth2_proxy=/);
    const through = await send(nginx.httpsPort, ca, 'GET', '/app', {
      cookie: cookie
        .split('; ')
        .filter((c) => c.startsWith('_oauth2_proxy='))
        .join('; '),
    });
    expect(through.status).toBe(200);
  });
});
