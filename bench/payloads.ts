// Store payloads of the sizes oidc-provider writes (see the reference notes: ~310–560 B), shared by the store benches.
import { randomBytes } from 'node:crypto';
import type { ModelPayload } from '@gatehouse/storage';

export const id = (): string => randomBytes(32).toString('base64url');
export const nowS = (): number => Math.floor(Date.now() / 1000);

export function codePayload(jti: string, grantId: string): ModelPayload {
  const iat = nowS();
  return {
    accountId: 'CgVhbGljZRIEbGRhcA',
    acr: 'urn:mace:incommon:iap:silver',
    amr: ['pwd'],
    authTime: iat,
    clientId: 'example-app',
    codeChallenge: randomBytes(32).toString('base64url'),
    codeChallengeMethod: 'S256',
    exp: iat + 60,
    grantId,
    iat,
    jti,
    kind: 'AuthorizationCode',
    nonce: randomBytes(16).toString('hex'),
    redirectUri: 'https://app.example.com/oauth2/callback',
    scope: 'openid email profile groups offline_access',
    sessionUid: id(),
  };
}
export function grantPayload(jti: string): ModelPayload {
  const iat = nowS();
  return {
    accountId: 'CgVhbGljZRIEbGRhcA',
    clientId: 'example-app',
    exp: iat + 86400,
    iat,
    jti,
    kind: 'Grant',
    openid: { scope: 'openid email profile groups offline_access', claims: [] },
    resources: {},
  };
}
export function tokenPayload(kind: string, jti: string, grantId: string): ModelPayload {
  const iat = nowS();
  return {
    accountId: 'CgVhbGljZRIEbGRhcA',
    clientId: 'example-app',
    exp: iat + 3600,
    extra: {},
    grantId,
    gty: 'authorization_code',
    iat,
    jti,
    kind,
    scope: 'openid email profile groups offline_access',
    sessionUid: id(),
  };
}
