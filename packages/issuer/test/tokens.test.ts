import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { MemoryStore, type ModelName, type Store } from '@gatehouse/storage';
import type { RunningIssuer } from '../src/index.ts';
import {
  browse,
  CookieJar,
  formAction,
  startTestIssuer,
  TEST_CLIENT,
  testOAuth2,
  withTestIssuer,
} from '../src/testing/index.ts';
import {
  ALICE,
  ALICE_PASSWORD,
  authorizationRequest,
  authorize,
  discover,
  passwordGrantOverrides,
  postForm,
  redeem,
  REDIRECT,
  shortExpiry,
  TEST_BASIC,
} from './helpers.ts';

const OTHER = {
  ...TEST_CLIENT,
  id: 'other-client',
  secret: 'other-client-secret-long-enough',
  name: 'Other',
  trustedPeers: [],
};
const PEER = {
  ...TEST_CLIENT,
  id: 'peer-api',
  secret: 'peer-api-secret-long-enough',
  name: 'Peer API',
  trustedPeers: [TEST_CLIENT.id],
};

/** A MemoryStore whose model reads and consumes take a while, so races actually interleave. */
function slowStore(delayMs: number): Store {
  const inner = new MemoryStore();
  const sleep = () => new Promise((r) => setTimeout(r, delayMs));
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'model') {
        return (name: ModelName) => {
          const m = target.model(name);
          return {
            ...m,
            upsert: m.upsert.bind(m),
            find: async (id: string) => {
              await sleep();
              return m.find(id);
            },
            findByUid: m.findByUid.bind(m),
            findByUserCode: m.findByUserCode.bind(m),
            consume: async (id: string) => {
              await sleep();
              return m.consume(id);
            },
            destroy: m.destroy.bind(m),
            revokeByGrantId: m.revokeByGrantId.bind(m),
          };
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('tokens', () => {
  let issuer: RunningIssuer;
  let config: client.Configuration;
  let store: Store;
  let tokenURL: string;

  beforeAll(async () => {
    store = slowStore(5);
    issuer = await startTestIssuer({ store, staticClients: [TEST_CLIENT, OTHER, PEER] });
    config = await discover(issuer);
    tokenURL = `${issuer.issuerURL}/token`;
  });
  afterAll(async () => {
    await issuer?.close();
    await store?.close();
  });

  const basic = TEST_BASIC;

  it('10 parallel redemptions of one code yield exactly one 200', async () => {
    const a = await authorize(config, 'openid');
    const form = {
      grant_type: 'authorization_code',
      code: a.callback.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: a.verifier,
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => postForm(tokenURL, form, basic)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(9);
    for (const r of results.filter((x) => x.status === 400)) expect(r.json?.error).toBe('invalid_grant');
  });

  it('a replayed code is invalid_grant and revokes what the first redemption issued', async () => {
    const a = await authorize(config, 'openid offline_access');
    const first = await redeem(config, a);
    const replay = await postForm(
      tokenURL,
      {
        grant_type: 'authorization_code',
        code: a.callback.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: a.verifier,
      },
      basic,
    );
    expect(replay.status).toBe(400);
    expect(replay.json?.error).toBe('invalid_grant');
    const intro = await client.tokenIntrospection(config, first.access_token);
    expect(intro.active).toBe(false);
    await expect(client.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('rotates refresh tokens and accepts the previous one within the reuse window', async () => {
    const tokens = await redeem(config, await authorize(config, 'openid offline_access email'));
    const r1 = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(r1.refresh_token).toBeTruthy();
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);
    expect(r1.claims()?.email).toBe('kilgore@kilgore.trout');
    // A client that lost the response retries with the old token: accepted (reuseInterval 3s).
    const retry = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(retry.access_token).toBeTruthy();
    const r2 = await client.refreshTokenGrant(config, r1.refresh_token!);
    expect(r2.access_token).toBeTruthy();
  });

  it('refresh tokens belong to their client', async () => {
    const tokens = await redeem(config, await authorize(config, 'openid offline_access'));
    const r = await postForm(tokenURL, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, [
      OTHER.id,
      OTHER.secret,
    ]);
    expect(r.status).toBe(400);
    expect(r.json?.error).toBe('invalid_grant');
  });

  it('introspection requires client authentication and reports active/inactive', async () => {
    const tokens = await redeem(config, await authorize(config, 'openid'));
    const introURL = `${issuer.issuerURL}/token/introspect`;
    const anonymous = await postForm(introURL, { token: tokens.access_token });
    expect(anonymous.status).toBe(400);
    expect(anonymous.json?.error).toBe('invalid_request');
    const wrong = await postForm(introURL, { token: tokens.access_token }, [TEST_CLIENT.id, 'wrong-secret']);
    expect(wrong.status).toBe(401);
    expect(wrong.json?.error).toBe('invalid_client');
    const ok = await postForm(introURL, { token: tokens.access_token }, basic);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ active: true, client_id: TEST_CLIENT.id, sub: tokens.claims()!.sub });
    const stranger = await postForm(introURL, { token: tokens.access_token }, [OTHER.id, OTHER.secret]);
    expect(stranger.json).toEqual({ active: false });
    const peer = await postForm(introURL, { token: tokens.access_token }, [PEER.id, PEER.secret]);
    expect(peer.json).toEqual({ active: false });
    const garbage = await postForm(introURL, { token: 'not-a-token' }, basic);
    expect(garbage.json).toEqual({ active: false });
  });

  it('revocation ends an access token', async () => {
    const tokens = await redeem(config, await authorize(config, 'openid'));
    await client.tokenRevocation(config, tokens.access_token);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    const info = await fetch(`${issuer.issuerURL}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(info.status).toBe(401);
  });

  it('cross-client audience: aud=[peer, client], azp=client when the peer trusts the client', async () => {
    const tokens = await redeem(config, await authorize(config, `openid audience:server:client_id:${PEER.id}`));
    const claims = decodeJwt(tokens.id_token!);
    expect(claims.aud).toEqual([PEER.id, TEST_CLIENT.id]);
    expect(claims.azp).toBe(TEST_CLIENT.id);
  });

  it('cross-client audience toward a peer that does not trust the client is invalid_scope', async () => {
    const { url } = await authorizationRequest(config, `openid audience:server:client_id:${OTHER.id}`, {
      extra: { state: 's1' },
    });
    const page = await browse(new CookieJar(), url.toString(), { stopAt: REDIRECT });
    expect(new URL(page.location!).searchParams.get('error')).toBe('invalid_scope');
  });

  it('unknown scopes are invalid_scope, as in Dex', async () => {
    const { url } = await authorizationRequest(config, 'openid admin', { extra: { state: 's2' } });
    const page = await browse(new CookieJar(), url.toString(), { stopAt: REDIRECT });
    const error = new URL(page.location!).searchParams;
    expect(error.get('error')).toBe('invalid_scope');
    expect(error.get('state')).toBe('s2');
  });

  it('RP-initiated logout shows our page and returns to post_logout_redirect_uri', async () => {
    const jar = new CookieJar();
    const tokens = await redeem(config, await authorize(config, 'openid', { jar }));
    const end = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectURIs[0]!,
      state: 'bye',
    });
    const page = await browse(jar, end.toString());
    expect(page.status).toBe(200);
    expect(page.body).toContain('Log out');
    expect(page.body).not.toMatch(/<script|style=/i);
    expect(page.response.headers.get('content-security-policy')).toContain(
      "form-action 'self' http://127.0.0.1:9 http:;",
    );
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
    const done = await browse(jar, formAction(page), {
      form: { xsrf: xsrf!, logout: 'yes' },
      stopAt: TEST_CLIENT.postLogoutRedirectURIs[0]!,
    });
    const back = new URL(done.location!);
    expect(back.searchParams.get('state')).toBe('bye');
    // The session's grant (no offline_access) was revoked at logout.
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });
});

describe('refresh policy', () => {
  /** An issuer with `policy`, and tokens (with a refresh token) from one code flow through it. */
  function withRefreshToken(
    policy: Parameters<typeof shortExpiry>[0],
    fn: (config: client.Configuration, tokens: client.TokenEndpointResponse) => Promise<void>,
  ): Promise<void> {
    return withTestIssuer({ overrides: { expiry: shortExpiry(policy) } }, async (issuer) => {
      const config = await discover(issuer);
      await fn(config, await redeem(config, await authorize(config, 'openid offline_access')));
    });
  }

  it('without a reuse interval, replaying a rotated refresh token revokes the grant', () =>
    withRefreshToken({}, async (config, tokens) => {
      const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!);
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      await expect(client.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
    }));

  it('refresh tokens expire after the idle window', () =>
    withRefreshToken({ validIfNotUsedFor: 1 }, async (config, tokens) => {
      await new Promise((r) => setTimeout(r, 2100));
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
    }));

  it('with rotation disabled the same refresh token keeps working', () =>
    withRefreshToken({ disableRotation: true }, async (config, tokens) => {
      const r1 = await client.refreshTokenGrant(config, tokens.refresh_token!);
      expect(r1.refresh_token ?? tokens.refresh_token).toBe(tokens.refresh_token);
      const r2 = await client.refreshTokenGrant(config, tokens.refresh_token!);
      expect(r2.access_token).toBeTruthy();
    }));
});

describe('password grant', () => {
  it('issues tokens for oauth2.passwordConnector and refuses wrong passwords', () =>
    withTestIssuer({ connectors: [], overrides: passwordGrantOverrides() }, async (issuer) => {
      const tokenURL = `${issuer.issuerURL}/token`;
      const basic = TEST_BASIC;
      const ok = await postForm(
        tokenURL,
        {
          grant_type: 'password',
          username: ALICE.email,
          password: ALICE_PASSWORD,
          scope: 'openid email offline_access',
        },
        basic,
      );
      expect(ok.status).toBe(200);
      expect(decodeJwt(String(ok.json?.id_token)).email).toBe(ALICE.email);
      expect(ok.json?.refresh_token).toBeTruthy();
      const config = await discover(issuer);
      const refreshed = await client.refreshTokenGrant(config, String(ok.json?.refresh_token));
      expect(refreshed.claims()?.email).toBe(ALICE.email);
      const bad = await postForm(
        tokenURL,
        { grant_type: 'password', username: ALICE.email, password: 'nope', scope: 'openid' },
        basic,
      );
      expect(bad.status).toBe(400);
      expect(bad.json?.error).toBe('invalid_grant');
      const noOpenid = await postForm(
        tokenURL,
        { grant_type: 'password', username: ALICE.email, password: ALICE_PASSWORD, scope: 'email' },
        basic,
      );
      expect(noOpenid.json?.error).toBe('invalid_scope');
      const anonymous = await postForm(tokenURL, {
        grant_type: 'password',
        username: ALICE.email,
        password: ALICE_PASSWORD,
        scope: 'openid',
      });
      expect(anonymous.status).toBeGreaterThanOrEqual(400);
      expect(anonymous.status).toBeLessThan(500);
    }));
});

describe('client credentials', () => {
  it('is offered only when listed in oauth2.grantTypes, and only to confidential clients', async () => {
    const grantTypes = ['authorization_code', 'refresh_token', 'client_credentials'];
    await withTestIssuer({ overrides: { oauth2: testOAuth2({ grantTypes }) } }, async (issuer) => {
      const ok = await postForm(`${issuer.issuerURL}/token`, { grant_type: 'client_credentials' }, TEST_BASIC);
      expect(ok.status).toBe(200);
      const intro = await postForm(
        `${issuer.issuerURL}/token/introspect`,
        { token: String(ok.json?.access_token) },
        TEST_BASIC,
      );
      expect(intro.json).toMatchObject({ active: true, client_id: TEST_CLIENT.id });
    });
    await withTestIssuer({}, async (off) => {
      const r = await postForm(`${off.issuerURL}/token`, { grant_type: 'client_credentials' }, TEST_BASIC);
      expect([r.status, r.json?.error]).toEqual([400, 'unsupported_grant_type']);
    });
  });
});
