/**
 * The client address behind trusted proxies is the right-most X-Forwarded-For entry that is not
 * a trusted proxy: what a client writes to the left of it cannot rotate its throttle key.
 * Password-grant brute force is throttled per address and per (username, address), with a
 * higher per-username ceiling across addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningIssuer } from '../src/index.ts';
import { startTestIssuer } from '../src/testing/index.ts';
import { ALICE, ALICE_PASSWORD, passwordGrantOverrides, postForm, TEST_BASIC } from './helpers.ts';

async function passwordGrant(issuer: RunningIssuer, form: Record<string, string>, xff?: string) {
  const r = await postForm(
    `${issuer.issuerURL}/token`,
    { grant_type: 'password', scope: 'openid', ...form },
    TEST_BASIC,
    xff === undefined ? {} : { 'x-forwarded-for': xff },
  );
  return { status: r.status, json: r.json ?? {} };
}

describe('password grant behind a trusted proxy', () => {
  let issuer: RunningIssuer;

  beforeAll(async () => {
    issuer = await startTestIssuer({
      connectors: [],
      throttle: { maxPerAddress: 4, maxPerUser: 3, maxPerUserTotal: 6 },
      overrides: {
        web: { trustedProxies: ['127.0.0.1', '10.1.0.0/16'] } as never,
        ...passwordGrantOverrides(),
      },
    });
  });
  afterAll(async () => {
    await issuer?.close();
  });

  it('a rotating left-most X-Forwarded-For does not escape the per-address limit', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await passwordGrant(
        issuer,
        { username: `spray${i}@example.com`, password: 'wrong' },
        `10.0.0.${i}, 203.0.113.9`,
      );
      expect(r.json.error).toBe('invalid_grant');
    }
    // Same real client (203.0.113.9), new spoofed prefix, correct password: still throttled
    // (oidc-provider shows every invalid_grant as 'grant request is invalid').
    const blocked = await passwordGrant(
      issuer,
      { username: ALICE.email, password: ALICE_PASSWORD },
      '10.0.1.1, 203.0.113.9',
    );
    expect(blocked.status).toBe(400);
    expect(blocked.json.error).toBe('invalid_grant');
    // Hops through a second trusted proxy (10.1.0.0/16) are skipped to find the client.
    const viaTwo = await passwordGrant(
      issuer,
      { username: ALICE.email, password: ALICE_PASSWORD },
      '1.2.3.4, 203.0.113.9, 10.1.2.3',
    );
    expect(viaTwo.json.error).toBe('invalid_grant');
    // Another client is not affected.
    const other = await passwordGrant(issuer, { username: ALICE.email, password: ALICE_PASSWORD }, '203.0.113.10');
    expect(other.status).toBe(200);
  });

  it('failures for one username from one address do not lock that user out elsewhere (until the ceiling)', async () => {
    for (let i = 0; i < 3; i++)
      await passwordGrant(issuer, { username: ALICE.email, password: 'wrong' }, '198.51.100.1');
    const sameAddress = await passwordGrant(
      issuer,
      { username: ALICE.email, password: ALICE_PASSWORD },
      '198.51.100.1',
    );
    expect(sameAddress.json.error).toBe('invalid_grant');
    const elsewhere = await passwordGrant(issuer, { username: ALICE.email, password: ALICE_PASSWORD }, '198.51.100.2');
    expect(elsewhere.status).toBe(200);
    // Across addresses the per-username ceiling still applies.
    for (let i = 0; i < 6; i++)
      await passwordGrant(issuer, { username: 'bob@example.com', password: 'wrong' }, `198.51.100.${10 + i}`);
    const ceiling = await passwordGrant(issuer, { username: 'bob@example.com', password: 'x' }, '198.51.100.99');
    expect(ceiling.json.error).toBe('invalid_grant');
  });

  it('an over-long username is a 400 invalid_request', async () => {
    const r = await passwordGrant(issuer, { username: `${'a'.repeat(600)}@example.com`, password: 'x' }, '192.0.2.77');
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_request');
  });

  it('X-Forwarded-Host/Proto from a trusted proxy do not change endpoint URLs (built from the issuer)', async () => {
    const res = await fetch(`${issuer.issuerURL}/.well-known/openid-configuration`, {
      headers: {
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        forwarded: 'host=evil.example;proto=https',
      },
    });
    const meta = (await res.json()) as Record<string, string>;
    const origin = new URL(issuer.issuerURL).origin;
    for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'])
      expect(new URL(meta[key]!).origin, key).toBe(origin);
  });
});
