/**
 * Anonymous clients cannot grow the Store (anonymous-records.ts): two replicas on one SQLite
 * file, rows counted in the file itself. `/auth`, the device and logout pages and every failure
 * path write nothing; what must be stored for a client that did not authenticate (device codes,
 * PAR requests, a login's copy while it is at an upstream IdP) stays within the per-address and
 * total budget; and a real login, begun on one replica and finished on the other, still works
 * after a flood from another address.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import * as client from 'openid-client';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startIssuer, type RunningIssuer } from '../src/index.ts';
import { DEFAULT_ANONYMOUS_BUDGET } from '../src/server/store/anonymous-records.ts';
import { browse, CookieJar, flood, TEST_CLIENT, testIssuerConfig, testOAuth2 } from '../src/testing/index.ts';
import { DEVICE_CODE_GRANT } from '../src/server/oidc/grant-types.ts';

const REDIRECT = TEST_CLIENT.redirectURIs[0]!;
const CLI = {
  ...TEST_CLIENT,
  id: 'kubectl',
  secret: undefined,
  public: true,
  name: 'kubectl',
  redirectURIs: ['http://127.0.0.1:8000/'],
};
const FLOOD = Number(process.env.GATEHOUSE_FLOOD ?? 10_000);
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('anonymous requests and the Store (SQLite, two replicas on one file)', () => {
  let dir: string;
  let db: DatabaseSync;
  const replicas: RunningIssuer[] = [];
  let issuerURL: string;
  let ports: number[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-anon-'));
    ports = [await getFreePort(), await getFreePort()];
    const base = testIssuerConfig(ports[0]!, {
      staticClients: [TEST_CLIENT, CLI],
      overrides: {
        storage: { type: 'sqlite3', config: { file: 'issuer.db' } },
        oauth2: testOAuth2({ grantTypes: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT] }),
      },
    });
    issuerURL = base.issuer;
    for (const port of ports) {
      // Loopback is the trusted proxy: X-Forwarded-For names the client address in these tests.
      const config = { ...base, web: { ...base.web, http: `127.0.0.1:${port}`, trustedProxies: ['127.0.0.1'] } };
      replicas.push(await startIssuer({ config, baseDir: dir, logger: pino({ level: 'silent' }) }));
    }
    db = new DatabaseSync(join(dir, 'issuer.db'), { readOnly: true });
  });

  afterAll(async () => {
    db?.close();
    for (const r of replicas) await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Unexpired rows per model, read from the file. */
  const rows = (): Record<string, number> =>
    Object.fromEntries(
      (
        db
          .prepare(
            'SELECT model, count(*) AS n FROM oidc_models WHERE expires_at IS NULL OR expires_at > ? GROUP BY model',
          )
          .all(Date.now()) as unknown as Array<{ model: string; n: number }>
      ).map((r) => [r.model, r.n]),
    );
  const total = (): number => Object.values(rows()).reduce((a, b) => a + b, 0);
  /** `url` (on the issuer URL) sent to replica `i`. */
  const on = (i: number, url: string): string => url.replace(`:${ports[0]}/`, `:${ports[i]}/`);
  const authURL = (extra: Record<string, string> = {}): string =>
    `${issuerURL}/auth?${new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', state: 'st', ...extra })}`;

  /**
   * Follows redirects from `start` until a URL starting with `stopAt`, sending hop `i` to the
   * replica `pick` names; cookies are kept for the issuer URL, as a browser behind a load
   * balancer keeps them. Returns that URL.
   */
  async function follow(
    jar: CookieJar,
    start: string,
    stopAt: string,
    address: string,
    pick: (i: number, path: string) => number,
  ): Promise<string> {
    let next = start;
    for (let i = 0; !next.startsWith(stopAt); i++) {
      expect(i, 'too many redirects').toBeLessThan(12);
      const res = await fetch(on(pick(i, new URL(next).pathname), next), {
        redirect: 'manual',
        headers: { cookie: jar.header(next), accept: 'text/html', 'x-forwarded-for': address },
      });
      jar.store(next, res);
      const location = res.headers.get('location');
      expect(location, `stopped at ${next}: ${res.status} ${(await res.clone().text()).slice(0, 200)}`).toBeTruthy();
      await res.arrayBuffer();
      next = new URL(location!, next).toString();
    }
    return next;
  }

  it(`${FLOOD} anonymous /auth requests from one address leave no record, on either replica`, async () => {
    const before = total();
    const url = authURL();
    const result = await flood(FLOOD, 50, (i) =>
      fetch(on(i % 2, url), { redirect: 'manual', headers: { 'x-forwarded-for': '203.0.113.1' } }),
    );
    console.log(
      `${FLOOD} anonymous /auth requests: ${result.ms} ms, statuses ${JSON.stringify(result.statuses)}, records after: ${JSON.stringify(rows())}`,
    );
    expect(result.statuses).toEqual({ 303: FLOOD });
    expect(rows().Interaction ?? 0).toBe(0);
    expect(total()).toBe(before);
  }, 300_000);

  it('the other anonymous endpoints and every failure path write nothing', async () => {
    const before = rows();
    const q = (o: Record<string, string>) => new URLSearchParams(o).toString();
    const xff = { 'x-forwarded-for': '203.0.113.2' };
    const paths: Array<[string, () => Promise<Response>, number | number[]]> = [
      ['GET /device', () => fetch(`${replicas[0]!.url}/dex/device`, { headers: xff }), 200],
      [
        'POST /device (junk)',
        () =>
          fetch(`${replicas[0]!.url}/dex/device`, {
            method: 'POST',
            headers: { ...form, ...xff },
            body: q({ xsrf: 'x', user_code: 'BBBB-BBBB' }),
          }),
        [400, 429],
      ], // 429: the user-code guessing limit
      ['GET /logout', () => fetch(`${replicas[0]!.url}/dex/logout`, { headers: xff }), 200],
      [
        'GET /logout?client_id',
        () =>
          fetch(
            `${replicas[1]!.url}/dex/logout?${q({ client_id: TEST_CLIENT.id, post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectURIs![0]! })}`,
            { headers: xff },
          ),
        200,
      ],
      [
        'POST /logout/confirm (junk)',
        () =>
          fetch(`${replicas[0]!.url}/dex/logout/confirm`, {
            method: 'POST',
            redirect: 'manual',
            headers: { ...form, ...xff },
            body: q({ xsrf: 'x', logout: 'yes' }),
          }),
        400,
      ],
      [
        'POST /token (junk code)',
        () =>
          fetch(`${replicas[0]!.url}/dex/token`, {
            method: 'POST',
            headers: { ...form, ...xff },
            body: q({
              client_id: CLI.id,
              grant_type: 'authorization_code',
              code: 'x',
              redirect_uri: CLI.redirectURIs[0]!,
            }),
          }),
        400,
      ],
      [
        'POST /token (wrong secret)',
        () =>
          fetch(`${replicas[0]!.url}/dex/token`, {
            method: 'POST',
            headers: {
              ...form,
              ...xff,
              authorization: `Basic ${Buffer.from(`${TEST_CLIENT.id}:nope`).toString('base64')}`,
            },
            body: q({ grant_type: 'refresh_token', refresh_token: 'x' }),
          }),
        401,
      ],
      [
        'GET /auth (unknown client)',
        () => fetch(`${replicas[0]!.url}/dex/auth?client_id=nope`, { redirect: 'manual', headers: xff }),
        400,
      ],
      [
        'GET /callback (junk state)',
        () => fetch(`${replicas[0]!.url}/dex/callback?state=abc&code=x`, { redirect: 'manual', headers: xff }),
        303,
      ],
      [
        'GET /interaction/junk/callback',
        () => fetch(`${replicas[0]!.url}/dex/interaction/abc/callback?state=abc`, { redirect: 'manual', headers: xff }),
        400,
      ],
      [
        'POST /callback (junk state)',
        () =>
          fetch(`${replicas[0]!.url}/dex/callback`, {
            method: 'POST',
            headers: { ...form, ...xff },
            body: q({ state: 'abc', code: 'x' }),
          }),
        400,
      ],
    ];
    for (const [name, send, status] of paths) {
      const result = await flood(50, 10, send);
      const allowed = (Array.isArray(status) ? status : [status]).map(String);
      expect(
        Object.keys(result.statuses).filter((s) => !allowed.includes(s)),
        `${name}: ${JSON.stringify(result.statuses)}`,
      ).toEqual([]);
    }
    // The pages that keep an xsrf secret still work with it (held in the browser): a user code
    // form posted back with its xsrf reaches the code check on the other replica.
    const jar = new CookieJar();
    const page = await browse(jar, `${issuerURL}/device`);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)![1]!;
    const res = await fetch(on(1, `${issuerURL}/device`), {
      method: 'POST',
      headers: { ...form, cookie: jar.header(`${issuerURL}/device`) },
      body: q({ xsrf, user_code: 'BBBB-BBBB' }),
    });
    expect(await res.text()).toContain('The code you entered is not valid');
    expect(rows()).toEqual(before);
  });

  it('a login too large to hold in a cookie is refused back to the client; a long return URL in the state is held', async () => {
    const big = await fetch(authURL({ state: randomBytes(3000).toString('base64url') }), { redirect: 'manual' });
    const back = new URL(big.headers.get('location')!, issuerURL);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toBe('the authorization request is too large');
    const deepLink = `rd=https://app.example/${'reports/2026/q3?view=full&'.repeat(80)}`;
    const done = await follow(new CookieJar(), authURL({ state: deepLink }), REDIRECT, '198.51.100.11', (i) => i % 2);
    expect(new URL(done).searchParams.get('state')).toBe(deepLink);
  });

  it('after the flood a real login works, begun on one replica and finished on the other; it is stored only once the user logged in', async () => {
    const rp = await client.discovery(new URL(issuerURL), TEST_CLIENT.id, TEST_CLIENT.secret!, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'legit',
    });
    const interactionsBefore = rows().Interaction ?? 0;
    const hops: string[] = [];
    // Every hop on the other replica than the one before (a load balancer with no affinity).
    const done = await follow(new CookieJar(), url.toString(), REDIRECT, '198.51.100.7', (i, path) => {
      hops.push(path);
      // Until the connector starts (the browser leaves for the upstream IdP) nothing is stored.
      if (hops.length <= 2) expect(rows().Interaction ?? 0, hops.join(' → ')).toBe(interactionsBefore);
      return i % 2;
    });
    const next = done;
    expect(hops.length).toBeGreaterThanOrEqual(5);
    const tokens = await client.authorizationCodeGrant(rp, new URL(next), {
      pkceCodeVerifier: verifier,
      expectedState: 'legit',
    });
    expect(tokens.claims()?.email).toBe('kilgore@kilgore.trout');
  });

  it(`logins leaving for an upstream IdP: at most ${DEFAULT_ANONYMOUS_BUDGET.perAddress} stored per address and window; past it they still complete`, async () => {
    const before = rows().Interaction ?? 0;
    const starts = 3 * DEFAULT_ANONYMOUS_BUDGET.perAddress;
    let last: { jar: CookieJar; location: string } | undefined;
    for (let i = 0; i < starts; i++) {
      const jar = new CookieJar();
      last = { jar, location: await follow(jar, authURL(), `${issuerURL}/callback`, '203.0.113.3', () => 0) };
    }
    expect((rows().Interaction ?? 0) - before).toBe(DEFAULT_ANONYMOUS_BUDGET.perAddress);
    // The last one found no room in the Store: it completes from its cookie, on the other replica.
    const done = await follow(last!.jar, last!.location, REDIRECT, '203.0.113.3', () => 1);
    expect(new URL(done).searchParams.get('code')).toBeTruthy();
    // Another address has a budget of its own.
    await follow(new CookieJar(), authURL(), `${issuerURL}/callback`, '198.51.100.8', () => 0);
    expect((rows().Interaction ?? 0) - before).toBe(DEFAULT_ANONYMOUS_BUDGET.perAddress + 1);
  });

  it(`device authorizations and PAR requests of public clients: ${DEFAULT_ANONYMOUS_BUDGET.perAddress} per address and window, then 429 with Retry-After`, async () => {
    const q = (o: Record<string, string>) => new URLSearchParams(o).toString();
    const device = (address: string) =>
      fetch(`${replicas[0]!.url}/dex/device/code`, {
        method: 'POST',
        headers: { ...form, 'x-forwarded-for': address },
        body: q({ client_id: CLI.id, scope: 'openid' }),
      });
    const par = (address: string) =>
      fetch(`${replicas[0]!.url}/dex/request`, {
        method: 'POST',
        headers: { ...form, 'x-forwarded-for': address },
        body: q({
          client_id: CLI.id,
          redirect_uri: CLI.redirectURIs[0]!,
          response_type: 'code',
          scope: 'openid',
          code_challenge: 'a'.repeat(43),
          code_challenge_method: 'S256',
        }),
      });
    for (const [name, send, ok, model] of [
      ['device', device, 200, 'DeviceCode'],
      ['PAR', par, 201, 'PushedAuthorizationRequest'],
    ] as const) {
      const before = rows()[model] ?? 0;
      const address = name === 'device' ? '203.0.113.4' : '203.0.113.5';
      const result = await flood(3 * DEFAULT_ANONYMOUS_BUDGET.perAddress, 10, () => send(address));
      expect(result.statuses, name).toEqual({
        [ok]: DEFAULT_ANONYMOUS_BUDGET.perAddress,
        429: 2 * DEFAULT_ANONYMOUS_BUDGET.perAddress,
      });
      expect((rows()[model] ?? 0) - before, name).toBe(DEFAULT_ANONYMOUS_BUDGET.perAddress);
      const refused = await send(address);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: string }).error).toBe('temporarily_unavailable');
      // Someone else is not locked out by that flood.
      const other = await send(name === 'device' ? '198.51.100.9' : '198.51.100.10');
      expect(other.status, name).toBe(ok);
    }
    // A confidential client authenticates: no budget applies to it.
    const basic = `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`;
    const authenticated = await fetch(`${replicas[0]!.url}/dex/request`, {
      method: 'POST',
      headers: { ...form, authorization: basic, 'x-forwarded-for': '203.0.113.5' },
      body: q({ client_id: TEST_CLIENT.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' }),
    });
    expect(authenticated.status, await authenticated.clone().text()).toBe(201);
  });
});
