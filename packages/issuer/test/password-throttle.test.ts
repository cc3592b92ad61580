/**
 * Password throttling under concurrency: the limit holds for attempts that are in flight at the
 * same time, counted where it matters (the connector's password check), on the form and the
 * password grant alike, per (user, address), per user and per address.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONNECTOR_KIT_VERSION, type ConnectorFactory } from '@gatehouse/connector-kit';
import type { RunningIssuer } from '../src/index.ts';
import { browse, CookieJar, formAction, startTestIssuer, TEST_CLIENT, testOAuth2 } from '../src/testing/index.ts';
import type { ThrottleOptions } from '../src/server/login/throttle.ts';
import { authorizationRequest, discover, postForm, REDIRECT, TEST_BASIC } from './helpers.ts';

const RIGHT = 'the-right-password';

/** A password connector that counts every password check and takes a while (as bcrypt does). */
function countingConnector(): { factory: ConnectorFactory; checks: string[] } {
  const checks: string[] = [];
  const factory: ConnectorFactory = {
    type: 'counting',
    kitVersion: CONNECTOR_KIT_VERSION,
    configSchema: z.strictObject({}),
    open: () => ({
      kind: 'password',
      prompt: 'Username',
      async login(_scopes, username, password) {
        checks.push(username);
        await new Promise((r) => setTimeout(r, 40));
        if (password !== RIGHT) return { ok: false };
        return {
          ok: true,
          identity: {
            userId: `id-${username}`,
            username,
            email: `${username}@example.com`,
            emailVerified: true,
            groups: [],
          },
        };
      },
    }),
  };
  return { factory, checks };
}

async function withCountingIssuer(
  throttle: Partial<ThrottleOptions>,
  fn: (issuer: RunningIssuer, checks: string[]) => Promise<void>,
): Promise<void> {
  const { factory, checks } = countingConnector();
  const issuer = await startTestIssuer({
    connectors: [{ type: 'counting', id: 'count', name: 'Counting', config: {} }],
    connectorFactories: [factory],
    throttle,
    overrides: {
      oauth2: testOAuth2({ grantTypes: ['authorization_code', 'password'], passwordConnector: 'count' }),
      // The test is its own proxy: X-Forwarded-For names the client address.
      web: { trustedProxies: ['127.0.0.1'] } as never,
    },
  });
  try {
    await fn(issuer, checks);
  } finally {
    await issuer.close();
  }
}

/** The password form of a fresh login, with its cookie jar. */
async function passwordForm(issuer: RunningIssuer): Promise<{ jar: CookieJar; target: string }> {
  const config = await discover(issuer);
  const jar = new CookieJar();
  const page = await browse(jar, (await authorizationRequest(config, 'openid email')).url.toString());
  expect(page.body).toContain('name="password"');
  return { jar, target: formAction(page) };
}

function grant(issuer: RunningIssuer, username: string, password: string, address = '192.0.2.1') {
  return postForm(
    `${issuer.issuerURL}/token`,
    { grant_type: 'password', username, password, scope: 'openid' },
    TEST_BASIC,
    {
      'x-forwarded-for': address,
    },
  );
}

const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

describe('password throttling under concurrency', () => {
  it('the form: 40 concurrent wrong passwords from one address reach the connector at most 5 times; the rest get 429', async () => {
    await withCountingIssuer({ maxPerUser: 5 }, async (issuer, checks) => {
      const { jar, target } = await passwordForm(issuer);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          browse(jar, target, { form: { login: 'victim', password: `guess-${i}` }, stopAt: REDIRECT }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(checks.length).toBeLessThanOrEqual(5);
      expect(tally(statuses)).toEqual({ 401: checks.length, 429: 40 - checks.length });
      for (const r of results.filter((x) => x.status === 429))
        expect(r.body).toMatch(/Too many attempts, try again in \d+ minutes?\./);
      // The right password is refused too until the window passes, and never checked.
      const right = await browse(jar, target, { form: { login: 'victim', password: RIGHT }, stopAt: REDIRECT });
      expect(right.status).toBe(429);
      expect(checks.length).toBeLessThanOrEqual(5);
    });
  });

  it('the password grant: 50 concurrent wrong passwords reach the connector at most 5 times; the rest get invalid_grant (4xx)', async () => {
    await withCountingIssuer({ maxPerUser: 5 }, async (issuer, checks) => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => grant(issuer, 'victim', `guess-${i}`)));
      expect(checks.length).toBeLessThanOrEqual(5);
      expect(tally(results.map((r) => r.status))).toEqual({ 400: 50 });
      expect(new Set(results.map((r) => r.json?.error))).toEqual(new Set(['invalid_grant']));
      const right = await grant(issuer, 'victim', RIGHT);
      expect(right.status).toBe(400);
      expect(right.json?.error).toBe('invalid_grant');
      expect(checks.length).toBeLessThanOrEqual(5);
      // Another address still gets its own budget for this user (no lock-out from one address).
      const elsewhere = await grant(issuer, 'victim', RIGHT, '192.0.2.2');
      expect(elsewhere.status).toBe(200);
    });
  });

  it('the right password is refused while the window holds the failures, and accepted once it moved on', async () => {
    await withCountingIssuer({ maxPerUser: 3, windowMs: 1500 }, async (issuer, checks) => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => grant(issuer, 'victim', `guess-${i}`)));
      expect(checks.length).toBe(3);
      expect((await grant(issuer, 'victim', RIGHT)).json?.error).toBe('invalid_grant');
      await new Promise((r) => setTimeout(r, 1600));
      expect((await grant(issuer, 'victim', RIGHT)).status).toBe(200);
      expect(checks.length).toBe(4);
    });
  });

  it('the form and the grant share one budget', async () => {
    await withCountingIssuer({ maxPerUser: 5 }, async (issuer, checks) => {
      const { jar, target } = await passwordForm(issuer);
      const [forms, grants] = await Promise.all([
        Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            browse(jar, target, {
              form: { login: 'victim', password: `f-${i}` },
              stopAt: REDIRECT,
              headers: { 'x-forwarded-for': '192.0.2.1' },
            }),
          ),
        ),
        Promise.all(Array.from({ length: 20 }, (_, i) => grant(issuer, 'victim', `g-${i}`))),
      ]);
      expect(checks.length).toBeLessThanOrEqual(5);
      expect([...forms, ...grants].every((r) => r.status < 500)).toBe(true);
    });
  });

  it('per user: 40 concurrent wrong passwords from 40 addresses stop at the per-user ceiling', async () => {
    await withCountingIssuer({ maxPerUser: 5, maxPerUserTotal: 10 }, async (issuer, checks) => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => grant(issuer, 'victim', `guess-${i}`, `198.51.100.${i + 1}`)),
      );
      expect(checks.length).toBeLessThanOrEqual(10);
      expect(results.every((r) => r.status === 400)).toBe(true);
    });
  });

  it('per address: 40 concurrent wrong passwords for 40 users from one address stop at the per-address limit', async () => {
    await withCountingIssuer({ maxPerUser: 5, maxPerAddress: 8 }, async (issuer, checks) => {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => grant(issuer, `user-${i}`, 'wrong')));
      expect(checks.length).toBeLessThanOrEqual(8);
      expect(results.every((r) => r.status === 400)).toBe(true);
    });
  });

  it('a success gives its reservation back: more successes than the limit from one address all pass', async () => {
    await withCountingIssuer({ maxPerUser: 2, maxPerAddress: 3 }, async (issuer, checks) => {
      const ok = await Promise.all(Array.from({ length: 10 }, (_, i) => grant(issuer, `user-${i % 2}`, RIGHT)));
      // Concurrent successes may briefly hold the budget; sequential ones never do.
      for (let i = 0; i < 10; i++) expect((await grant(issuer, `user-${i % 2}`, RIGHT)).status).toBe(200);
      expect(ok.every((r) => r.status === 200 || r.json?.error === 'invalid_grant')).toBe(true);
      // And a success clears the username's failures: 1 failure, 1 success, 2 more failures allowed.
      expect((await grant(issuer, 'carol', 'wrong')).status).toBe(400);
      expect((await grant(issuer, 'carol', RIGHT)).status).toBe(200);
      const before = checks.length;
      await grant(issuer, 'carol', 'wrong');
      await grant(issuer, 'carol', 'wrong');
      expect(checks.length).toBe(before + 2);
    });
  });

  it('a form login that succeeds after failures still works (client gets a code)', async () => {
    await withCountingIssuer({ maxPerUser: 5 }, async (issuer) => {
      const { jar, target } = await passwordForm(issuer);
      for (let i = 0; i < 4; i++)
        expect((await browse(jar, target, { form: { login: 'alice', password: 'no' }, stopAt: REDIRECT })).status).toBe(
          401,
        );
      const done = await browse(jar, target, { form: { login: 'alice', password: RIGHT }, stopAt: REDIRECT });
      expect(done.location).toContain(`${TEST_CLIENT.redirectURIs[0]}?code=`);
    });
  });
});
