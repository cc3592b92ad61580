/**
 * The GitHub connector through the real issuer: an openid-client relying party, the issuer on
 * loopback, and the fake GitHub (github.com mode over HTTP, GitHub Enterprise mode over HTTPS).
 */
import { get as httpsGet } from 'node:https';
import { startFakeGitHub } from '@gatehouse/testkit/github';
import type { FakeGitHub, FakeGitHubOptions } from '@gatehouse/testkit/github';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorConfig } from '../src/config/types.ts';
import type { RunningIssuer } from '../src/index.ts';
import { CookieJar, login, startTestIssuer } from '../src/testing/index.ts';
import { REDIRECT, authorizationRequest, discover, isAuthorization, redeem, tryAuthorize } from './helpers.ts';
import type { Outcome } from './helpers.ts';

const GH_CLIENT = { clientId: 'gatehouse-github-app', clientSecret: 'gatehouse-github-app-secret' };

function world(https: boolean): FakeGitHubOptions {
  return {
    https,
    users: [
      {
        id: 501,
        login: 'alice',
        name: 'Alice',
        emails: [{ email: 'alice@acme.example', verified: true, primary: true }],
      },
      {
        id: 502,
        login: 'mallory',
        name: 'Mallory',
        emails: [{ email: 'mallory@evil.example', verified: true, primary: true }],
      },
    ],
    orgs: [
      { login: 'acme', members: ['alice'] },
      { login: 'evil', members: ['mallory'] },
    ],
    teams: [
      { org: 'acme', name: 'Platform', members: ['alice'] },
      { org: 'acme', name: 'SRE', members: ['alice'] },
    ],
    // Registered once the issuer's callback URL is known.
    clients: [],
  };
}

async function authorizeAs(gh: FakeGitHub, config: client.Configuration, who: string, scope: string): Promise<Outcome> {
  gh.signIn(who);
  return tryAuthorize(config, scope);
}

interface GitHubWorld {
  gh: FakeGitHub;
  issuer: RunningIssuer;
  rp: client.Configuration;
}

/** Around a describe block: the fake GitHub, an issuer with one github connector for it, and the RP. */
function useGitHubWorld(
  https: boolean,
  id: string,
  name: string,
  config: (gh: FakeGitHub) => Record<string, unknown>,
): GitHubWorld {
  const w = {} as GitHubWorld;
  beforeAll(async () => {
    w.gh = await startFakeGitHub(world(https));
    const connector: ConnectorConfig = {
      type: 'github',
      id,
      name,
      config: { clientID: GH_CLIENT.clientId, clientSecret: GH_CLIENT.clientSecret, ...config(w.gh) },
    };
    w.issuer = await startTestIssuer({ connectors: [connector] });
    w.gh.registerClient({ ...GH_CLIENT, callbackURL: `${w.issuer.issuerURL}/callback` });
    w.rp = await discover(w.issuer);
  });
  afterAll(async () => {
    await w.issuer?.close();
    await w.gh?.close();
  });
  return w;
}

describe('github connector through the issuer (github.com mode)', () => {
  const w = useGitHubWorld(false, 'github', 'GitHub', (gh) => ({
    apiURL: gh.apiURL,
    oauthURL: gh.url,
    orgs: [{ name: 'acme' }],
    requestTimeout: '3s',
  }));

  it('logs alice in: ID token with her verified email and org:team groups', async () => {
    const a = await authorizeAs(w.gh, w.rp, 'alice', 'openid email profile groups federated:id');
    if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}: ${a.body.slice(0, 300)}`);
    const tokens = await redeem(w.rp, a);
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      email: 'alice@acme.example',
      email_verified: true,
      name: 'Alice',
      preferred_username: 'alice',
      federated_claims: { connector_id: 'github', user_id: '501' },
    });
    expect((claims?.['groups'] as string[]).sort()).toEqual(['acme:Platform', 'acme:SRE']);
    // The issuer's state and a PKCE challenge went to GitHub; the verifier came back at the token endpoint.
    const authorize = w.gh.requests.find((r) => r.path === '/login/oauth/authorize');
    expect(authorize?.query['state']).toBeTruthy();
    expect(authorize?.query['code_challenge_method']).toBe('S256');
    const exchange = w.gh.requests.filter((r) => r.path === '/login/oauth/access_token').at(-1);
    expect(exchange?.fields?.['code_verifier']).toBeTruthy();
    expect(exchange?.accept).toBe('application/json');
  });

  it('answers a user outside the allowed organisations with a 403 page, and no code reaches the client', async () => {
    const a = await authorizeAs(w.gh, w.rp, 'mallory', 'openid email groups');
    expect(isAuthorization(a)).toBe(false);
    if (isAuthorization(a)) return;
    expect(a.status).toBe(403);
    expect(a.body).toMatch(/organi[sz]ation or team/);
    expect(a.body).not.toContain(GH_CLIENT.clientSecret);
  });

  it('refreshes while alice is a member, and refuses the refresh token once she is removed from the org', async () => {
    const a = await authorizeAs(w.gh, w.rp, 'alice', 'openid email groups offline_access');
    if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}`);
    const tokens = await redeem(w.rp, a);
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(w.rp, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    w.gh.removeFromOrg('acme', 'alice');
    try {
      const failure = await client.refreshTokenGrant(w.rp, refreshed.refresh_token!).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(client.ResponseBodyError);
      expect((failure as client.ResponseBodyError).error).toBe('invalid_grant');
    } finally {
      w.gh.addToOrg('acme', 'alice', ['Platform', 'SRE']);
    }
  });

  it('refuses the refresh token once the GitHub token is revoked', async () => {
    const a = await authorizeAs(w.gh, w.rp, 'alice', 'openid offline_access');
    if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}`);
    const tokens = await redeem(w.rp, a);
    w.gh.revokeTokensOf('alice');
    const failure = await client.refreshTokenGrant(w.rp, tokens.refresh_token!).catch((e: unknown) => e);
    expect((failure as client.ResponseBodyError).error).toBe('invalid_grant');
  });

  it('shows a retry page (502) when GitHub is rate limiting', async () => {
    w.gh.setFault({ kind: 'rateLimit', seconds: 60 });
    try {
      const a = await authorizeAs(w.gh, w.rp, 'alice', 'openid email');
      expect(isAuthorization(a)).toBe(false);
      if (!isAuthorization(a)) expect(a.status).toBe(502);
    } finally {
      w.gh.setFault(undefined);
    }
  });
});

describe('github connector through the issuer (GitHub Enterprise over HTTPS with a custom CA)', () => {
  const w = useGitHubWorld(true, 'ghe', 'GitHub Enterprise', (gh) => ({
    hostName: gh.hostName,
    rootCA: gh.caFile,
    orgs: [{ name: 'acme', teams: ['sre'] }],
    teamNameField: 'slug',
  }));

  it('logs alice in through https://{hostName} trusting rootCA', async () => {
    // The test's browser (global fetch) does not trust the fake's CA: play the GitHub hop by hand.
    w.gh.signIn('alice');
    const request = await authorizationRequest(w.rp, 'openid email groups');
    const jar = new CookieJar();
    const toGitHub = await login(jar, request.url.toString(), { stopAt: `https://${w.gh.hostName}/` });
    expect(toGitHub.location?.startsWith(`https://${w.gh.hostName}/login/oauth/authorize?`)).toBe(true);
    const back = await new Promise<string>((resolve, reject) => {
      httpsGet(toGitHub.location!, { ca: w.gh.caCert }, (res) => {
        res.resume();
        resolve(res.headers.location ?? '');
      }).on('error', reject);
    });
    expect(back.startsWith(`${w.issuer.issuerURL}/callback?`)).toBe(true);
    const done = await login(jar, back, { stopAt: REDIRECT });
    expect(done.location, done.body.slice(0, 300)).toBeDefined();
    const tokens = await redeem(w.rp, { ...request, callback: new URL(done.location!) });
    expect(tokens.claims()).toMatchObject({ email: 'alice@acme.example', groups: ['acme:sre'] });
  });
});
