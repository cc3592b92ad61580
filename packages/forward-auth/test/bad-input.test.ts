// Bad input on every endpoint, with the real issuer behind: clear 4xx answers, never a 5xx.
import { CookieJar } from '@gatehouse/issuer/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE } from '../src/redirect.cases.ts';
import { startHarness, toCallback, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ skip_jwt_bearer_tokens: true, cookie_refresh: '1h' });
});
afterAll(async () => {
  await h?.close();
});

const ENDPOINTS = [
  '/oauth2/auth',
  '/oauth2/start',
  '/oauth2/sign_in',
  '/oauth2/callback',
  '/oauth2/sign_out',
  '/oauth2/sign_out/done',
  '/oauth2/userinfo',
  '/ping',
  '/ready',
  '/metrics',
];
const QUERIES = [
  '',
  '?rd=',
  '?rd=%',
  '?rd=%00',
  `?rd=${'a'.repeat(3000)}`,
  '?code=&state=',
  '?code=x&state=y&state=z',
  '?error=x&error_description=%3Cscript%3E',
  '?allowed_groups=%FF%FE',
  '?allowed_emails=&allowed_email_domains=%',
  '?%%%%=%%%',
  '?a[b]=1&__proto__=x&constructor=y',
];
const HEADERS: Array<Record<string, string>> = [
  {},
  { cookie: '_oauth2_proxy=garbage' },
  { cookie: '_oauth2_proxy_0=a; _oauth2_proxy_1=b' },
  { cookie: `_oauth2_proxy=${'A'.repeat(4000)}` },
  { cookie: '_oauth2_proxy_abcdefghijkl_csrf=zzz; =; ;;' },
  { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA' },
  { authorization: 'Bearer ' },
  { accept: 'application/json' },
  { 'x-forwarded-host': 'evil.example', 'x-forwarded-uri': '//evil', 'x-forwarded-proto': 'gopher' },
  { 'x-auth-request-redirect': 'javascript:alert(1)' },
];

describe('no 5xx on any endpoint', () => {
  it('endpoints × queries × headers × methods', async () => {
    const failures: string[] = [];
    for (const path of ENDPOINTS) {
      for (const q of QUERIES) {
        for (const headers of HEADERS) {
          for (const method of ['GET', 'POST', 'HEAD']) {
            const r = await fetch(`${h.fa.url}${path}${q}`, {
              method,
              headers,
              redirect: 'manual',
              ...(method === 'POST' ? { body: 'x=1' } : {}),
            });
            await r.arrayBuffer();
            if (r.status >= 500)
              failures.push(`${method} ${path}${q.slice(0, 40)} ${JSON.stringify(headers).slice(0, 60)} → ${r.status}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('/oauth2/start with every hostile rd redirects to the issuer; the callback lands on /', async () => {
    for (const c of HOSTILE.slice(0, 20)) {
      const r = await fetch(`${h.fa.url}/oauth2/start?rd=${encodeURIComponent(c.rd)}`, { redirect: 'manual' });
      expect(r.status, c.why).toBe(302);
      expect(r.headers.get('location')?.startsWith(h.issuer.issuerURL), c.why).toBe(true);
    }
  });

  it('a valid state with a code the issuer does not know: error page, flow cookie cleared', async () => {
    const jar = new CookieJar();
    const { callbackURL } = await toCallback(h, jar);
    const wrong = new URL(callbackURL);
    wrong.searchParams.set('code', 'not-a-code');
    const r = await fetch(wrong, { redirect: 'manual', headers: { cookie: jar.header(wrong) } });
    expect(r.status).toBe(403);
    expect(await r.text()).toContain('could not be completed');
    expect(r.headers.getSetCookie().some((c) => /_csrf=; .*Max-Age=0/.test(c))).toBe(true);
    expect(r.headers.getSetCookie().some((c) => c.startsWith('_oauth2_proxy=') && !c.includes('Max-Age=0'))).toBe(
      false,
    );
  });

  it('an issuer error response (access_denied) is an error page', async () => {
    const jar = new CookieJar();
    const { callbackURL } = await toCallback(h, jar);
    const state = new URL(callbackURL).searchParams.get('state') as string;
    const r = await fetch(`${h.fa.url}/oauth2/callback?error=access_denied&state=${state}`, {
      redirect: 'manual',
      headers: { cookie: jar.header(callbackURL) },
    });
    expect(r.status).toBe(403);
    expect(await r.text()).toContain('access_denied');
    expect(r.headers.getSetCookie().some((c) => /_csrf=; .*Max-Age=0/.test(c))).toBe(true);
  });

  it('/ready answers 200 once discovery works', async () => {
    expect((await fetch(`${h.fa.url}/ready`)).status).toBe(200);
  });
});
