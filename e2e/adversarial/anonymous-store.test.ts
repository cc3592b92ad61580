// Issue 11, item 9: anonymous store growth. Through nginx with the deploy template, every request a client can
// send without logging in (the issuer's authorization endpoint in its variants, the device and logout pages, junk
// callbacks, failed token/device/PAR requests, forward-auth's sign-in start) is sent many times, and the issuer's
// SQLite file is counted: nothing is left, except logins that left for an upstream IdP, which stay within the
// per-address budget (see the README, "Anonymous requests and the Store").
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@gatehouse/storage';
import { DEFAULT_ANONYMOUS_BUDGET } from '../../packages/issuer/src/server/store/anonymous-records.ts';
import { closeClients, http1, type Answer } from './client.ts';
import { startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const growth = defineClass('store/anonymous-growth');
const REPEAT = 50;
const FLOOD = Number(process.env.GATEHOUSE_ADVERSARIAL_FLOOD ?? 10_000);

/** The SQLite file under the issuer's store decorators. */
function sqliteFile(store: Store): string {
  let s: unknown = store;
  while (s && typeof s === 'object' && !('file' in s) && 'inner' in s) s = (s as { inner: unknown }).inner;
  const file = (s as { file?: unknown }).file;
  if (typeof file !== 'string') throw new Error('the stack does not run on SQLite');
  return file;
}

const location = (a: Answer): string | undefined =>
  typeof a.headers.location === 'string' ? a.headers.location : undefined;
const setCookies = (a: Answer): string[] => {
  const v = a.headers['set-cookie'];
  return (Array.isArray(v) ? v : v ? [v] : []).map((c) => c.split(';')[0]!);
};
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('anonymous requests through nginx leave nothing in the store', () => {
  let stack: AdversarialStack;
  let db: DatabaseSync;
  let authPath: string;

  beforeAll(async () => {
    stack = await startAdversarialStack({ proxyPass: 'http://app', withMockConnector: true });
    db = new DatabaseSync(sqliteFile(stack.issuer.store), { readOnly: true });
    // The authorization request forward-auth builds for a browser that is not signed in.
    const start = await http1(stack, '/oauth2/start?rd=/private/x');
    const to = location(start);
    expect(to, `status ${start.status}`).toBeDefined();
    const url = new URL(to!, stack.origin);
    expect(url.pathname).toBe('/dex/auth');
    authPath = `${url.pathname}${url.search}`;
  });

  afterAll(async () => {
    db?.close();
    if (stack) closeClients(stack);
    await stack?.stop();
  });

  const records = (): number =>
    (
      db
        .prepare('SELECT count(*) AS n FROM oidc_models WHERE expires_at IS NULL OR expires_at > ?')
        .get(Date.now()) as { n: number }
    ).n;

  /** Sends `count` requests, 8 at a time; returns the statuses seen. */
  async function send(count: number, one: (i: number) => Promise<Answer>): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < count; i = next++) {
          const a = await one(i);
          statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        }
      }),
    );
    return statuses;
  }

  const withParams = (extra: Record<string, string>): string => {
    const u = new URL(authPath, stack.origin);
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
    return `${u.pathname}${u.search}`;
  };

  /** One anonymous request kind: `REPEAT` copies leave no record. */
  async function noRecord(name: string, one: (i: number) => Promise<Answer>, count = REPEAT): Promise<void> {
    const before = records();
    const statuses = await send(count, one);
    const left = records() - before;
    const failed = Object.keys(statuses).filter((s) => Number(s) >= 500);
    growth.check(
      name,
      'no-record',
      failed.length > 0 ? `status-${failed.join(',')}` : left === 0 ? 'no-record' : `RECORDS-LEFT-${left}`,
      JSON.stringify(statuses),
    );
  }

  it('the authorization endpoint in its variants', async () => {
    await noRecord(`${FLOOD} × GET /dex/auth (forward-auth's request, replayed)`, () => http1(stack, authPath), FLOOD);
    await noRecord('GET /oauth2/start then its /dex/auth', async () => {
      const to = location(await http1(stack, '/oauth2/start?rd=/private/y'));
      return http1(stack, to ? new URL(to, stack.origin).pathname + new URL(to, stack.origin).search : '/oauth2/start');
    });
    for (const [name, extra] of [
      ['response_mode=form_post', { response_mode: 'form_post' }],
      ['prompt=login max_age=0', { prompt: 'login', max_age: '0' }],
      ['connector_id=mock', { connector_id: 'mock' }],
      ['a 4,000-byte random state (too large to hold: refused)', { state: randomBytes(3000).toString('base64url') }],
      ['a 3,000-byte state that compresses (held)', { state: `rd=${'/deep/link'.repeat(300)}` }],
      ['unknown scope', { scope: 'openid nosuchscope' }],
      ['wrong redirect_uri', { redirect_uri: 'https://evil.example/cb' }],
      ['unknown client', { client_id: 'nope' }],
    ] as const) {
      await noRecord(`GET /dex/auth ${name}`, () => http1(stack, withParams(extra)));
    }
    const body = new URL(authPath, stack.origin).search.slice(1);
    await noRecord('POST /dex/auth', () => http1(stack, '/dex/auth', { method: 'POST', headers: form, body }));
    // Following on to the login page (the connector choice, with its cookies) stores nothing either.
    await noRecord('GET /dex/auth → the connector choice page', async () => {
      const first = await http1(stack, authPath);
      const to = location(first)!;
      return http1(stack, new URL(to, stack.origin).pathname, { headers: { cookie: setCookies(first).join('; ') } });
    });
  });

  it('the login held by the browser: one cookie on the interaction path, HttpOnly, Secure, SameSite=Lax, under 4 KB', async () => {
    const first = await http1(stack, authPath);
    const uid = new URL(location(first)!, stack.origin).pathname.split('/').pop()!;
    const raw = (
      Array.isArray(first.headers['set-cookie']) ? first.headers['set-cookie'] : [first.headers['set-cookie'] ?? '']
    ).filter((c) => c.startsWith('_interaction_state='));
    expect(raw).toHaveLength(1);
    const attrs = raw[0]!.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs).toEqual(
      expect.arrayContaining([`path=/dex/interaction/${uid.toLowerCase()}`, 'httponly', 'secure', 'samesite=lax']),
    );
    expect(raw[0]!.length).toBeLessThan(4096);
    // The sealed value is opaque: nothing of the request (client, redirect_uri, state) reads through.
    expect(raw[0]).not.toMatch(/oauth2-proxy|redirect_uri|callback/);
  });

  it('every other anonymous endpoint, and failures', async () => {
    const cases: Array<[string, () => Promise<Answer>]> = [
      ['GET /dex/device', () => http1(stack, '/dex/device')],
      [
        'POST /dex/device (junk code)',
        () => http1(stack, '/dex/device', { method: 'POST', headers: form, body: 'xsrf=x&user_code=BBBB-BBBB' }),
      ],
      ['GET /dex/logout', () => http1(stack, '/dex/logout')],
      [
        'POST /dex/logout/confirm (junk)',
        () => http1(stack, '/dex/logout/confirm', { method: 'POST', headers: form, body: 'xsrf=x&logout=yes' }),
      ],
      ['GET /dex/callback (junk state)', () => http1(stack, '/dex/callback?state=abcdef&code=x')],
      [
        'POST /dex/callback (junk state)',
        () => http1(stack, '/dex/callback', { method: 'POST', headers: form, body: 'state=abcdef&code=x' }),
      ],
      ['GET /dex/interaction/junk/callback', () => http1(stack, '/dex/interaction/abcdef/callback?state=abcdef')],
      [
        'POST /dex/token (junk code)',
        () =>
          http1(stack, '/dex/token', {
            method: 'POST',
            headers: form,
            body: 'grant_type=authorization_code&code=x&client_id=oauth2-proxy',
          }),
      ],
      [
        'POST /dex/token (wrong secret)',
        () =>
          http1(stack, '/dex/token', {
            method: 'POST',
            headers: { ...form, authorization: `Basic ${Buffer.from('oauth2-proxy:nope').toString('base64')}` },
            body: 'grant_type=refresh_token&refresh_token=x',
          }),
      ],
      [
        'POST /dex/device/code (no client authentication)',
        () =>
          http1(stack, '/dex/device/code', {
            method: 'POST',
            headers: form,
            body: 'client_id=oauth2-proxy&scope=openid',
          }),
      ],
      [
        'POST /dex/request (no client authentication)',
        () =>
          http1(stack, '/dex/request', {
            method: 'POST',
            headers: form,
            body: `${new URL(authPath, stack.origin).search.slice(1)}`,
          }),
      ],
      ['GET /oauth2/callback (junk state)', () => http1(stack, '/oauth2/callback?state=abcdef&code=x')],
      ['GET /oauth2/sign_out', () => http1(stack, '/oauth2/sign_out')],
    ];
    for (const [name, one] of cases) await noRecord(name, one);
  });

  it(`logins that leave for an upstream IdP: at most ${DEFAULT_ANONYMOUS_BUDGET.perAddress} stored per address`, async () => {
    const before = records();
    const statuses = await send(3 * DEFAULT_ANONYMOUS_BUDGET.perAddress, async () => {
      const first = await http1(stack, withParams({ connector_id: 'mock' }));
      let cookie = setCookies(first).join('; ');
      // /dex/interaction/<uid> → /dex/interaction/<uid>/connector/mock → the "upstream" (mock: our /dex/callback).
      let at = location(first)!;
      let last = first;
      for (let hop = 0; hop < 3 && !new URL(at, stack.origin).pathname.endsWith('/dex/callback'); hop++) {
        const u = new URL(at, stack.origin);
        last = await http1(stack, `${u.pathname}${u.search}`, { headers: { cookie } });
        cookie = [cookie, ...setCookies(last)].filter(Boolean).join('; ');
        at = location(last) ?? at;
      }
      return last;
    });
    const left = records() - before;
    growth.check(
      `${3 * DEFAULT_ANONYMOUS_BUDGET.perAddress} upstream starts from one address`,
      'within-budget',
      left <= DEFAULT_ANONYMOUS_BUDGET.perAddress ? 'within-budget' : `OVER-BUDGET-${left}`,
      JSON.stringify(statuses),
    );
  });
});
