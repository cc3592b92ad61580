/**
 * Device-flow user_code guessing (RFC 8628 §5.1): submissions are limited per client address and
 * globally per window, counted where a guess costs (the store lookup by user code), also when
 * the guesses arrive at the same time; past the limit a readable 429 page.
 */
import { describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { MemoryStore } from '@gatehouse/storage';
import type { RunningIssuer } from '../src/index.ts';
import {
  browse,
  type BrowseResult,
  CookieJar,
  formAction,
  startTestIssuer,
  TEST_CLIENT,
  testOAuth2,
} from '../src/testing/index.ts';
import type { ThrottleOptions } from '../src/server/login/throttle.ts';
import { discover } from './helpers.ts';

const CLI = {
  ...TEST_CLIENT,
  id: 'kubectl',
  secret: undefined,
  public: true,
  name: 'kubectl',
  redirectURIs: ['http://127.0.0.1:8000/'],
};
const xsrfOf = (page: BrowseResult) => /name="xsrf" value="([^"]+)"/.exec(page.body)![1]!;

async function withDeviceIssuer(
  throttle: Partial<ThrottleOptions>,
  fn: (issuer: RunningIssuer, config: client.Configuration, lookups: string[]) => Promise<void>,
): Promise<void> {
  const store = new MemoryStore();
  const lookups: string[] = [];
  const model = store.model('DeviceCode');
  const find = model.findByUserCode.bind(model);
  model.findByUserCode = async (code) => {
    lookups.push(code);
    return find(code);
  };
  const issuer = await startTestIssuer({
    store,
    staticClients: [CLI],
    throttle,
    overrides: {
      oauth2: testOAuth2({ grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'] }),
      web: { trustedProxies: ['127.0.0.1'] } as never,
    },
  });
  try {
    await fn(issuer, await discover(issuer, CLI.id, null), lookups);
  } finally {
    await issuer.close();
    await store.close();
  }
}

/** The code input page of a browser at `address`, and a guess submitter for it. */
async function guesser(issuer: RunningIssuer, address: string) {
  const jar = new CookieJar();
  const headers = { 'x-forwarded-for': address };
  const input = await browse(jar, `${issuer.issuerURL}/device`, { headers });
  expect(input.status).toBe(200);
  const xsrf = xsrfOf(input);
  const target = formAction(input);
  return (userCode: string, extra: Record<string, string> = {}) =>
    browse(jar, target, { form: { xsrf, user_code: userCode, ...extra }, headers });
}

const guess = (i: number) =>
  `BCDF-${String(i)
    .padStart(4, '0')
    .replace(/\d/g, (d) => 'GHJKLMNPQR'[Number(d)]!)}`;

describe('device flow: user_code guessing is throttled', () => {
  it('40 concurrent wrong codes from one address: at most the per-address limit are looked up, the rest get a readable 429', async () => {
    await withDeviceIssuer(
      { maxDeviceCodesPerAddress: 5, maxDeviceCodesTotal: 1000 },
      async (issuer, config, lookups) => {
        // One browser session per guess (a failed guess rotates the session's xsrf token).
        const submitters = await Promise.all(Array.from({ length: 40 }, () => guesser(issuer, '192.0.2.1')));
        const results = await Promise.all(submitters.map((submit, i) => submit(guess(i))));
        expect(lookups.length).toBeLessThanOrEqual(5);
        const throttled = results.filter((r) => r.status === 429);
        expect(throttled.length).toBe(40 - lookups.length);
        expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
        for (const r of throttled) {
          expect(r.body).toMatch(/Too many codes were tried\. Try again in \d+ minutes?\./);
          expect(Number(r.response.headers.get('retry-after'))).toBeGreaterThan(0);
          expect(r.response.headers.get('content-security-policy')).toContain("default-src 'none'");
        }
        // The right code from that address is refused too (confirm=yes included: every submission counts).
        const device = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
        expect((await (await guesser(issuer, '192.0.2.1'))(device.user_code)).status).toBe(429);
        expect((await (await guesser(issuer, '192.0.2.1'))(device.user_code, { confirm: 'yes' })).status).toBe(429);
        // Another address is not affected; a right code gives its reservation back.
        for (let i = 0; i < 8; i++)
          expect((await (await guesser(issuer, '192.0.2.2'))(device.user_code)).body).toContain('Confirm the device');
      },
    );
  });

  it('guesses rotated over 50 addresses stop at the global limit', async () => {
    await withDeviceIssuer(
      { maxDeviceCodesPerAddress: 5, maxDeviceCodesTotal: 12 },
      async (issuer, _config, lookups) => {
        const submitters = await Promise.all(
          Array.from({ length: 50 }, (_, i) => guesser(issuer, `198.51.100.${i + 1}`)),
        );
        const results = await Promise.all(submitters.map((submit, i) => submit(guess(i))));
        expect(lookups.length).toBeLessThanOrEqual(12);
        expect(results.filter((r) => r.status === 429).length).toBe(50 - lookups.length);
        expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
      },
    );
  });
});
