/**
 * Dex's `staticClients[].allowedConnectors`: a client logs in only through the listed
 * connectors, enforced on every grant: the login UI, `connector_id`, the password grant, and at
 * the token endpoint (code, refresh) for grants made before the list changed.
 */
import { describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { MemoryStore } from '@gatehouse/storage';
import type { StaticClient } from '../src/config/types.ts';
import { browse, CookieJar, MOCK_CONNECTOR, startTestIssuer, TEST_CLIENT } from '../src/testing/index.ts';
import {
  ALICE,
  ALICE_PASSWORD,
  authorizationRequest,
  authorize,
  discover,
  passwordGrantOverrides,
  postForm,
  redeem,
  TEST_BASIC,
  useIssuer,
} from './helpers.ts';

const RESTRICTED: StaticClient = {
  ...TEST_CLIENT,
  id: 'restricted',
  secret: 'restricted-secret-long-enough',
  allowedConnectors: ['mock'],
};

const overrides = passwordGrantOverrides;
/** An authorization URL for RESTRICTED (PKCE, state `s`). */
const restrictedURL = async (config: client.Configuration, extra: Record<string, string> = {}) =>
  (
    await authorizationRequest(config, 'openid', {
      redirectURI: RESTRICTED.redirectURIs[0]!,
      extra: { state: 's', ...extra },
    })
  ).url;

describe('allowedConnectors', () => {
  const env = useIssuer(
    { staticClients: [TEST_CLIENT, RESTRICTED], connectors: [MOCK_CONNECTOR], overrides: overrides() },
    RESTRICTED.id,
    RESTRICTED.secret,
  );

  it('the login offers only the allowed connectors and completes through them', async () => {
    // Two connectors exist (mock, local); only mock is allowed, so it is chosen without a page.
    const tokens = await redeem(env.config, await authorize(env.config, 'openid email'));
    expect(tokens.claims()?.email).toBe('kilgore@kilgore.trout');
  });

  it('connector_id of a connector the client may not use is invalid_request', async () => {
    const url = await restrictedURL(env.config, { connector_id: 'local' });
    const r = await browse(new CookieJar(), url.toString(), { stopAt: RESTRICTED.redirectURIs[0]! });
    expect(new URL(r.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a forbidden connector reached directly is a 403 page', async () => {
    const url = await restrictedURL(env.config);
    const jar = new CookieJar();
    const start = await browse(jar, url.toString(), { stopAt: `${env.issuer.issuerURL}/interaction/` });
    const interaction = start.location!;
    const page = await browse(jar, `${interaction}/connector/local`);
    expect(page.status).toBe(403);
    const post = await browse(jar, `${interaction}/connector/local/login`, {
      form: { login: ALICE.email, password: ALICE_PASSWORD },
    });
    expect(post.status).toBe(403);
  });

  it('the password grant refuses a client that may not use the password connector', async () => {
    const form = { grant_type: 'password', username: ALICE.email, password: ALICE_PASSWORD, scope: 'openid' };
    const r = await postForm(`${env.issuer.issuerURL}/token`, form, [RESTRICTED.id, RESTRICTED.secret!]);
    expect(r.status).toBe(400);
    expect(r.json?.error).toBe('unauthorized_client');
    const allowed = await postForm(`${env.issuer.issuerURL}/token`, form, TEST_BASIC);
    expect(allowed.status).toBe(200);
  });

  it('refresh tokens of a grant made through a connector the client may no longer use are refused', async () => {
    const store = new MemoryStore();
    const before = await startTestIssuer({
      store,
      staticClients: [{ ...RESTRICTED, allowedConnectors: undefined }],
      overrides: overrides(),
    });
    let refreshToken: string;
    try {
      const c = await discover(before, RESTRICTED.id, RESTRICTED.secret);
      const tokens = await redeem(c, await authorize(c, 'openid offline_access', { connectorId: 'mock' }));
      refreshToken = tokens.refresh_token!;
    } finally {
      await before.close();
    }
    const after = await startTestIssuer({
      store,
      staticClients: [{ ...RESTRICTED, allowedConnectors: ['local'] }],
      overrides: overrides(),
    });
    try {
      const c = await discover(after, RESTRICTED.id, RESTRICTED.secret);
      await expect(client.refreshTokenGrant(c, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      await after.close();
      await store.close();
    }
  });
});
