import { describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { browse, CookieJar, TEST_CLIENT, testOAuth2, withTestIssuer } from '../src/testing/index.ts';
import { decodeSubject } from '../src/server/grants/subject.ts';
import { authorizationRequest, authorize, redeem, REDIRECT, useIssuer } from './helpers.ts';

describe('authorization code flow through mockCallback', () => {
  const env = useIssuer();

  it('issues Dex-like ID tokens with PKCE, state and nonce', async () => {
    const tokens = await redeem(env.config, await authorize(env.config, 'openid email profile groups federated:id'));
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(env.issuer.issuerURL);
    expect(claims.aud).toBe(TEST_CLIENT.id);
    expect(claims.email).toBe('kilgore@kilgore.trout');
    expect(claims.email_verified).toBe(true);
    expect(claims.name).toBe('Kilgore Trout');
    expect(claims.groups).toEqual(['authors']);
    expect(claims.federated_claims).toEqual({ connector_id: 'mock', user_id: '0-385-28089-0' });
    expect(decodeSubject(claims.sub)).toEqual({ userId: '0-385-28089-0', connectorId: 'mock' });
    expect(tokens.refresh_token).toBeUndefined();
    const info = await client.fetchUserInfo(env.config, tokens.access_token, claims.sub);
    expect(info.email).toBe('kilgore@kilgore.trout');
    expect(decodeJwt(tokens.id_token!).exp! - decodeJwt(tokens.id_token!).iat!).toBe(24 * 3600);
  });

  it('response_mode=form_post answers with a visible form to the redirect_uri and no script', async () => {
    const { url } = await authorizationRequest(env.config, 'openid', {
      extra: { state: 'fp-state', response_mode: 'form_post' },
    });
    const page = await browse(new CookieJar(), url.toString(), { stopAt: REDIRECT });
    expect(page.status).toBe(200);
    expect(page.body).toContain(`action="${REDIRECT}"`);
    expect(page.body).toContain('name="state" value="fp-state"');
    // A visible form with a button: no script, so no script-src/hash in the CSP.
    expect(page.body).not.toMatch(/<script/i);
    expect(page.body).toMatch(/<button[^>]*type="submit"/);
    const csp = page.response.headers.get('content-security-policy')!;
    expect(csp).not.toMatch(/script-src|sha256-/);
    expect(csp).toContain(`form-action 'self' ${new URL(REDIRECT).origin}`);
    expect(page.response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('gives a refresh token for offline_access without a consent prompt', async () => {
    const tokens = await redeem(env.config, await authorize(env.config, 'openid offline_access'));
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(env.config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  });
});

describe('discovery and login screen options', () => {
  it('serves RFC 8414 metadata at the root with the issuer path appended', () =>
    withTestIssuer({}, async (issuer) => {
      const config = await client.discovery(new URL(issuer.issuerURL), TEST_CLIENT.id, TEST_CLIENT.secret, undefined, {
        execute: [client.allowInsecureRequests],
        algorithm: 'oauth2',
      });
      expect(config.serverMetadata().issuer).toBe(issuer.issuerURL);
      expect(config.serverMetadata().token_endpoint).toBe(`${issuer.issuerURL}/token`);
    }));

  it('alwaysShowLoginScreen shows the choice even with one connector', () =>
    withTestIssuer(
      {
        overrides: {
          oauth2: testOAuth2({
            grantTypes: ['authorization_code'],
            alwaysShowLoginScreen: true,
            pkce: { enforce: true, codeChallengeMethodsSupported: ['S256'] },
          }),
          frontend: { issuer: 'Acme Login', theme: 'dark', extra: {}, logoURL: 'https://acme.example/logo.png' },
        },
      },
      async (issuer) => {
        const q = new URLSearchParams({
          client_id: TEST_CLIENT.id,
          response_type: 'code',
          scope: 'openid',
          redirect_uri: REDIRECT,
          state: 's',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        });
        const page = await browse(new CookieJar(), `${issuer.issuerURL}/auth?${q}`);
        expect(page.status).toBe(200);
        expect(page.body).toContain('Log in with Mock');
        expect(page.body).toContain('<img class="logo" src="https://acme.example/logo.png" alt="Acme Login">');
        expect(page.body).toContain('class="theme-dark"');
        // pkce.enforce: a confidential client without a challenge is refused.
        q.delete('code_challenge');
        q.delete('code_challenge_method');
        const refused = await browse(new CookieJar(), `${issuer.issuerURL}/auth?${q}`, { stopAt: REDIRECT });
        expect(new URL(refused.location!).searchParams.get('error')).toBe('invalid_request');
      },
    ));
});
