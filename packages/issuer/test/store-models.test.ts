/**
 * The issuer asks its Store only for the oidc-provider models the Store keeps (`MODEL_NAMES`):
 * every enabled feature, and requests that name a disabled one (a JWT client assertion, a DPoP
 * proof, dynamic registration, CIBA) are answered with a 4xx, never a 5xx, and touch no other model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { SignJWT } from 'jose';
import { ForwardingStore, MemoryStore, MODEL_NAMES, type ModelName, type ModelStore } from '@gatehouse/storage';
import type { RunningIssuer } from '../src/index.ts';
import { startTestIssuer, TEST_CLIENT, testOAuth2 } from '../src/testing/index.ts';
import { authorize, discover, postForm, redeem, TEST_BASIC } from './helpers.ts';

/** Records every model name the issuer asks for. */
class RecordingStore extends ForwardingStore {
  readonly asked = new Set<string>();
  override model(name: ModelName): ModelStore {
    this.asked.add(name);
    return super.model(name);
  }
}

const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
];

describe('the issuer uses only the models the Store keeps', () => {
  const store = new RecordingStore(new MemoryStore());
  let issuer: RunningIssuer;
  let base: string;

  beforeAll(async () => {
    issuer = await startTestIssuer({ store, overrides: { oauth2: testOAuth2({ grantTypes: GRANT_TYPES }) } });
    base = issuer.issuerURL;
  });
  afterAll(async () => {
    await issuer?.close();
    await store.close();
  });

  it('every enabled feature: code flow, refresh, introspection, revocation, userinfo, PAR, device, client credentials', async () => {
    const config = await discover(issuer);
    const tokens = await redeem(config, await authorize(config, 'openid email offline_access'));
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    await client.fetchUserInfo(config, refreshed.access_token, refreshed.claims()!.sub);
    const intro = await postForm(`${base}/token/introspect`, { token: refreshed.access_token }, TEST_BASIC);
    expect(intro.json?.active).toBe(true);
    expect((await postForm(`${base}/token/revoke`, { token: refreshed.refresh_token! }, TEST_BASIC)).status).toBe(200);
    const par = await postForm(
      `${base}/request`,
      {
        client_id: TEST_CLIENT.id,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: TEST_CLIENT.redirectURIs[0]!,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      },
      TEST_BASIC,
    );
    expect(par.status, par.text).toBe(201);
    expect((await postForm(`${base}/device/code`, { scope: 'openid' }, TEST_BASIC)).status).toBe(200);
    expect((await postForm(`${base}/token`, { grant_type: 'client_credentials' }, TEST_BASIC)).status).toBe(200);
    expect([...store.asked].filter((m) => !(MODEL_NAMES as readonly string[]).includes(m))).toEqual([]);
    // The features above did reach the models they need.
    for (const m of [
      'Session',
      'Grant',
      'AuthorizationCode',
      'AccessToken',
      'RefreshToken',
      'Interaction',
      'PushedAuthorizationRequest',
      'DeviceCode',
      'ClientCredentials',
    ]) {
      expect(store.asked, m).toContain(m);
    }
  });

  it('requests for disabled features, 50 concurrent copies each: 4xx, and no model outside MODEL_NAMES', async () => {
    const secret = new TextEncoder().encode(TEST_CLIENT.secret!);
    const assertion = async () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(TEST_CLIENT.id)
        .setSubject(TEST_CLIENT.id)
        .setAudience(`${base}/token`)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(secret);
    const dpop = await new SignJWT({ htm: 'POST', htu: `${base}/token`, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt' })
      .setIssuedAt()
      .sign(secret);
    const requests: Array<[string, () => Promise<{ status: number; text: string }>]> = [
      [
        'client_secret_jwt assertion (ReplayDetection)',
        async () =>
          postForm(`${base}/token`, {
            grant_type: 'client_credentials',
            client_id: TEST_CLIENT.id,
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: await assertion(),
          }),
      ],
      [
        'DPoP proof (ReplayDetection)',
        () => postForm(`${base}/token`, { grant_type: 'client_credentials' }, TEST_BASIC, { dpop }),
      ],
      [
        'dynamic registration (Client, RegistrationAccessToken)',
        () => postForm(`${base}/reg`, { redirect_uris: 'https://x.example/cb' }),
      ],
      [
        'CIBA (BackchannelAuthenticationRequest)',
        () => postForm(`${base}/backchannel`, { scope: 'openid', login_hint: 'a' }, TEST_BASIC),
      ],
    ];
    for (const [what, send] of requests) {
      const answers = await Promise.all(Array.from({ length: 50 }, send));
      for (const a of answers) expect(a.status, `${what}: ${a.text}`).toBeLessThan(500);
      // The assertion is refused (the client authenticates with client_secret_basic); DPoP is off, so the proof is ignored.
      if (what.startsWith('client_secret_jwt')) expect(answers.every((a) => a.status === 401)).toBe(true);
      if (what.startsWith('DPoP')) expect(answers.every((a) => a.status === 200)).toBe(true);
    }
    expect([...store.asked].filter((m) => !(MODEL_NAMES as readonly string[]).includes(m))).toEqual([]);
  });
});
