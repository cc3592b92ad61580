/**
 * A refresh whose upstream check fails transiently, through the real issuer and the GitHub
 * connector against the fake GitHub issuing GitHub App tokens (single-use refresh tokens, renewed
 * on every refresh here): the client gets a retryable 503 `temporarily_unavailable` (with
 * `Retry-After` when known), its refresh token stays usable, and the GitHub token pair rotated
 * before the failure is kept, so the same refresh token works once GitHub recovers.
 */
import { startFakeGitHub } from '@gatehouse/testkit/github';
import type { FakeGitHub } from '@gatehouse/testkit/github';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningIssuer } from '../src/index.ts';
import { startTestIssuer } from '../src/testing/index.ts';
import { TEST_BASIC, discover, isAuthorization, postForm, redeem, tryAuthorize } from './helpers.ts';

const GH_CLIENT = { clientId: 'gatehouse-github-app', clientSecret: 'gatehouse-github-app-secret' };

let gh: FakeGitHub;
let issuer: RunningIssuer;
let rp: client.Configuration;

beforeAll(async () => {
  gh = await startFakeGitHub({
    users: [
      {
        id: 501,
        login: 'alice',
        name: 'Alice',
        emails: [{ email: 'alice@acme.example', verified: true, primary: true }],
      },
    ],
    orgs: [{ login: 'acme', members: ['alice'] }],
    clients: [],
    // Inside the connector's renewal margin: every refresh swaps the GitHub token pair first.
    tokenLifetimeSeconds: 30,
  });
  issuer = await startTestIssuer({
    connectors: [
      {
        type: 'github',
        id: 'github',
        name: 'GitHub',
        config: {
          clientID: GH_CLIENT.clientId,
          clientSecret: GH_CLIENT.clientSecret,
          apiURL: gh.apiURL,
          oauthURL: gh.url,
          requestTimeout: '3s',
        },
      },
    ],
  });
  gh.registerClient({ ...GH_CLIENT, callbackURL: `${issuer.issuerURL}/callback` });
  rp = await discover(issuer);
});

afterAll(async () => {
  await issuer?.close();
  await gh?.close();
});

async function offlineLogin(): Promise<string> {
  gh.signIn('alice');
  const a = await tryAuthorize(rp, 'openid email offline_access');
  if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}: ${a.body.slice(0, 300)}`);
  const tokens = await redeem(rp, a);
  if (!tokens.refresh_token) throw new Error('no refresh token');
  return tokens.refresh_token;
}

const refreshRaw = (refreshToken: string) =>
  postForm(`${issuer.issuerURL}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, TEST_BASIC);

const tokenExchanges = () =>
  gh.requests.filter((r) => r.path === '/login/oauth/access_token' && r.fields?.['grant_type'] === 'refresh_token')
    .length;

describe('refresh while the upstream fails transiently', () => {
  it('answers 503 temporarily_unavailable, keeps the rotated GitHub token, and the same refresh token works after recovery', async () => {
    const refreshToken = await offlineLogin();
    const exchangesBefore = tokenExchanges();
    // GitHub swaps the token pair, then /user fails once.
    gh.setFault({ kind: 'serverError', status: 502, paths: ['/user'], times: 1 });
    const failed = await refreshRaw(refreshToken);
    expect(failed.status).toBe(503);
    expect(failed.json).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(failed.headers.get('retry-after')).toBeNull();
    expect(failed.text).not.toContain('ghr_');
    expect(tokenExchanges()).toBe(exchangesBefore + 1);

    // GitHub is back: the same refresh token (not consumed) refreshes, with the GitHub refresh
    // token handed back by the failed attempt (the one the issuer had before is spent).
    const ok = await client.refreshTokenGrant(rp, refreshToken);
    expect(ok.access_token).toBeTruthy();
    expect(ok.claims()?.['email']).toBe('alice@acme.example');
    expect(ok.refresh_token).toBeTruthy();
    expect(ok.refresh_token).not.toBe(refreshToken);
    // And the chain goes on.
    const again = await client.refreshTokenGrant(rp, ok.refresh_token!);
    expect(again.access_token).toBeTruthy();
  });

  it('passes a rate limit on as Retry-After', async () => {
    const refreshToken = await offlineLogin();
    gh.setFault({ kind: 'secondaryRateLimit', seconds: 42, paths: ['/user'], times: 1 });
    const failed = await refreshRaw(refreshToken);
    expect(failed.status).toBe(503);
    expect(failed.json).toMatchObject({ error: 'temporarily_unavailable' });
    expect(failed.headers.get('retry-after')).toBe('42');
    expect((await refreshRaw(refreshToken)).status).toBe(200);
  });

  it('still refuses with invalid_grant when the upstream says the user is gone for good', async () => {
    const refreshToken = await offlineLogin();
    gh.revokeTokensOf('alice');
    const failed = await refreshRaw(refreshToken);
    expect(failed.status).toBe(400);
    expect(failed.json).toMatchObject({ error: 'invalid_grant' });
  });
});
