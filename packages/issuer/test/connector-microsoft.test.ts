/**
 * The Microsoft Entra ID connector through the real issuer: an openid-client relying party, the
 * issuer on loopback, and the fake Entra ID + Graph (HTTPS, its CA trusted in this process).
 */
import { startFakeEntra } from '@gatehouse/testkit/entra';
import type { FakeEntra } from '@gatehouse/testkit/entra';
import * as client from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningIssuer } from '../src/index.ts';
import { CookieJar, login, startTestIssuer } from '../src/testing/index.ts';
import { REDIRECT, authorizationRequest, discover, isAuthorization, outcome, redeem } from './helpers.ts';
import type { Outcome } from './helpers.ts';

const APP = { clientId: '0f0f0f0f-1111-4222-8333-444444444444', clientSecret: 'entra-app-secret-for-tests' };
const GROUPS = {
  platform: { id: 'd0000000-0000-4000-8000-000000000001', displayName: 'Platform' },
  staff: { id: 'd0000000-0000-4000-8000-000000000002', displayName: 'Staff' },
  sre: { id: 'd0000000-0000-4000-8000-000000000003', displayName: 'SRE' },
};

let fake: FakeEntra;
let issuer: RunningIssuer;
let rp: client.Configuration;

/** RP → issuer → fake Entra login form → issuer callback → RP redirect (or the page it stopped at). */
async function signInAs(username: string, password: string, scope: string): Promise<Outcome> {
  const request = await authorizationRequest(rp, scope);
  const jar = new CookieJar();
  const toEntra = await login(jar, request.url.toString(), { stopAt: fake.url });
  if (!toEntra.location)
    throw new Error(`the issuer did not send the browser to Entra: ${toEntra.status} ${toEntra.body.slice(0, 300)}`);
  expect(toEntra.location.startsWith(`${fake.authority}/oauth2/v2.0/authorize?`)).toBe(true);
  const back = await fake.signIn(toEntra.location, { username, password });
  expect(back.href.startsWith(`${issuer.issuerURL}/callback?`)).toBe(true);
  return outcome(request, await login(jar, back.href, { stopAt: REDIRECT }));
}

beforeAll(async () => {
  fake = await startFakeEntra({
    users: [
      {
        userPrincipalName: 'alice@contoso.test',
        password: 'Alice!pass1',
        displayName: 'Alice Example',
        mail: 'Alice@Contoso.test',
        groups: [GROUPS.sre.id],
      },
      {
        userPrincipalName: 'mallory@contoso.test',
        password: 'Mallory!pass1',
        displayName: 'Mallory',
        mail: 'mallory@contoso.test',
        groups: [],
      },
    ],
    groups: [
      { ...GROUPS.platform, memberOf: [GROUPS.staff.id] },
      { ...GROUPS.staff },
      { ...GROUPS.sre, memberOf: [GROUPS.platform.id] },
    ],
    clients: [],
  });
  fake.trustInThisProcess();
  issuer = await startTestIssuer({
    connectors: [
      {
        type: 'microsoft',
        id: 'entra',
        name: 'Microsoft',
        config: {
          clientID: APP.clientId,
          clientSecret: APP.clientSecret,
          tenant: fake.tenantId,
          apiURL: fake.url,
          graphURL: fake.graphURL,
          groups: ['Staff'],
          emailToLowercase: true,
          timeoutSeconds: 3,
        },
      },
    ],
  });
  fake.registerClient({ ...APP, redirectUris: [`${issuer.issuerURL}/callback`] });
  rp = await discover(issuer);
});

afterAll(async () => {
  await issuer?.close();
  await fake?.close();
});
afterEach(() => fake.clearFaults());

describe('microsoft connector through the issuer', () => {
  it('logs alice in: ID token with her email, name and transitive groups, keyed on her object id', async () => {
    const a = await signInAs('alice@contoso.test', 'Alice!pass1', 'openid email profile groups federated:id');
    if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}: ${a.body.slice(0, 300)}`);
    const claims = (await redeem(rp, a)).claims();
    expect(claims).toMatchObject({
      email: 'alice@contoso.test',
      email_verified: true,
      name: 'Alice Example',
      federated_claims: { connector_id: 'entra', user_id: fake.oidOf('alice@contoso.test') },
    });
    expect((claims?.['groups'] as string[]).sort()).toEqual(['Platform', 'SRE', 'Staff']);
    // PKCE and a nonce went upstream, and the verifier came back at Entra's token endpoint.
    expect(fake.requests.some((r) => r.path === `/${fake.tenantId}/oauth2/v2.0/token`)).toBe(true);
  });

  it('answers a user outside the required groups with a 403 page, and no code reaches the client', async () => {
    const a = await signInAs('mallory@contoso.test', 'Mallory!pass1', 'openid email groups');
    expect(isAuthorization(a)).toBe(false);
    if (isAuthorization(a)) return;
    expect(a.status).toBe(403);
    expect(a.body).toMatch(/group/i);
    expect(a.body).not.toContain(APP.clientSecret);
  });

  it('shows a readable error page for an AADSTS error from Entra', async () => {
    fake.setFault({
      where: 'authorize',
      oauthError: {
        error: 'access_denied',
        code: 50105,
        description: 'The signed in user is not assigned to a role for the application.',
      },
    });
    const a = await signInAs('alice@contoso.test', 'Alice!pass1', 'openid email');
    expect(isAuthorization(a)).toBe(false);
    if (isAuthorization(a)) return;
    expect(a.status).toBe(403);
    expect(a.body).toContain('AADSTS50105');
    expect(a.body).toMatch(/not assigned/);
  });

  it('shows a 502 retry page when Graph is throttling for long', async () => {
    fake.setFault({ where: 'graph', status: 429, retryAfter: 300 });
    const a = await signInAs('alice@contoso.test', 'Alice!pass1', 'openid email groups');
    expect(isAuthorization(a)).toBe(false);
    if (!isAuthorization(a)) expect(a.status).toBe(502);
  });

  it('re-reads groups on refresh, and refuses the refresh token once the user left the required groups', async () => {
    const a = await signInAs('alice@contoso.test', 'Alice!pass1', 'openid email groups offline_access');
    if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}: ${a.body.slice(0, 300)}`);
    const tokens = await redeem(rp, a);
    expect(tokens.refresh_token).toBeTruthy();
    const oid = fake.oidOf('alice@contoso.test');
    fake.setUserGroups(oid, [GROUPS.staff.id]);
    try {
      const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
      expect(refreshed.claims()?.['groups']).toEqual(['Staff']);
      fake.setUserGroups(oid, []);
      const failure = await client.refreshTokenGrant(rp, refreshed.refresh_token!).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(client.ResponseBodyError);
      expect((failure as client.ResponseBodyError).error).toBe('invalid_grant');
    } finally {
      fake.setUserGroups(oid, [GROUPS.sre.id]);
    }
  });

  it('refuses the refresh token once Entra revoked the upstream tokens', async () => {
    const a = await signInAs('alice@contoso.test', 'Alice!pass1', 'openid offline_access');
    if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}`);
    const tokens = await redeem(rp, a);
    fake.revokeTokens(fake.oidOf('alice@contoso.test'));
    const failure = await client.refreshTokenGrant(rp, tokens.refresh_token!).catch((e: unknown) => e);
    expect((failure as client.ResponseBodyError).error).toBe('invalid_grant');
  });
});
