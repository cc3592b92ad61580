import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SignJWT } from 'jose';
import type { HandlerOptions } from './context.ts';
import { randomToken, secretEquals } from './directory.ts';
import type { DirectoryUser } from './directory.ts';
import { b64url, json, oauthError } from './respond.ts';
import type { Res } from './respond.ts';

/** `/{tenant}/oauth2/v2.0/token`: code (with PKCE) and refresh-token grants, id_tokens signed RS256. */

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

export async function idToken(
  o: HandlerOptions,
  user: DirectoryUser,
  clientId: string,
  nonce: string | undefined,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    ver: '2.0',
    oid: user.oid,
    tid: user.tid,
    name: user.displayName,
    preferred_username: user.userPrincipalName,
    ...(user.mail ? { email: user.mail } : {}),
    ...(user.emailDomainOwnerVerified ? { xms_edov: true } : {}),
    ...(nonce !== undefined ? { nonce } : {}),
    uti: randomUUID().replace(/-/g, '').slice(0, 22),
    rh: '0.fake.',
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: o.kid })
    .setIssuer(`${o.baseURL()}/${user.tid}/v2.0`)
    .setAudience(clientId)
    .setSubject(createHash('sha256').update(`${user.oid}:${clientId}`).digest('base64url').slice(0, 43))
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 3600)
    .sign(o.signingKey);
}

export async function issueTokens(
  o: HandlerOptions,
  res: Res,
  user: DirectoryUser,
  clientId: string,
  scope: string,
  nonce: string | undefined,
): Promise<void> {
  const { directory } = o;
  const resourceScopes = scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s.toLowerCase()));
  const granted = resourceScopes.length > 0 ? resourceScopes.join(' ') : 'User.Read';
  const accessToken = randomToken('at');
  const refreshToken = randomToken('rt');
  const generation = directory.generation(user.oid);
  directory.accessTokens.set(accessToken, {
    oid: user.oid,
    clientId,
    scope: granted,
    generation,
    expiresAt: Date.now() + o.accessTokenSeconds * 1000,
  });
  directory.refreshTokens.set(refreshToken, { oid: user.oid, clientId, scope, generation });
  json(res, 200, {
    token_type: 'Bearer',
    scope: `${granted} openid profile email`,
    expires_in: o.accessTokenSeconds,
    ext_expires_in: o.accessTokenSeconds,
    access_token: accessToken,
    refresh_token: refreshToken,
    id_token: await idToken(o, user, clientId, nonce),
    client_info: b64url(JSON.stringify({ uid: user.oid, utid: user.tid })),
  });
}

export async function token(
  o: HandlerOptions,
  req: IncomingMessage,
  res: Res,
  tenant: string,
  form: URLSearchParams,
): Promise<void> {
  const { directory } = o;
  let clientId = form.get('client_id') ?? '';
  let secret = form.get('client_secret');
  const basic = req.headers.authorization;
  if (basic?.startsWith('Basic ')) {
    const [id, pw] = Buffer.from(basic.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
    clientId = id ?? clientId;
    secret = pw ?? null;
  }
  const client = directory.clients.get(clientId);
  if (!client)
    return oauthError(
      res,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory.`,
    );
  if (secret === null)
    return oauthError(
      res,
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  if (!secretEquals(client.clientSecret, secret))
    return oauthError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');

  const grantType = form.get('grant_type');
  if (grantType === 'authorization_code') {
    const code = form.get('code') ?? '';
    const issued = directory.codes.get(code);
    if (!issued)
      return oauthError(
        res,
        400,
        'invalid_grant',
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
    directory.codes.delete(code); // single use, even when the rest of the request is wrong
    if (issued.expiresAt < Date.now())
      return oauthError(
        res,
        400,
        'invalid_grant',
        70008,
        'The provided authorization code or refresh token has expired due to inactivity.',
      );
    if (issued.login.clientId !== clientId)
      return oauthError(res, 400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
    if (issued.login.tenant !== tenant)
      return oauthError(res, 400, 'invalid_grant', 70000, 'The code was issued for another tenant endpoint.');
    if ((form.get('redirect_uri') ?? '') !== issued.login.redirectUri) {
      return oauthError(
        res,
        400,
        'invalid_grant',
        50148,
        'The redirect_uri does not match the one of the authorization request.',
      );
    }
    if (issued.login.codeChallenge !== undefined) {
      const verifier = form.get('code_verifier') ?? '';
      const computed =
        issued.login.codeChallengeMethod === 'plain'
          ? verifier
          : createHash('sha256').update(verifier).digest('base64url');
      if (!verifier || !secretEquals(computed, issued.login.codeChallenge)) {
        return oauthError(
          res,
          400,
          'invalid_grant',
          501481,
          'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
        );
      }
    }
    const user = directory.users.get(issued.oid);
    if (!user) return oauthError(res, 400, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
    return issueTokens(o, res, user, clientId, form.get('scope') ?? issued.login.scope, issued.login.nonce);
  }
  if (grantType === 'refresh_token') {
    const grant = directory.refreshTokens.get(form.get('refresh_token') ?? '');
    if (!grant || grant.clientId !== clientId)
      return oauthError(res, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    const user = directory.users.get(grant.oid);
    if (!user) return oauthError(res, 400, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
    if (grant.generation !== directory.generation(grant.oid)) {
      return oauthError(
        res,
        400,
        'invalid_grant',
        50173,
        'The provided grant has expired due to it being revoked, a fresh auth token is needed.',
      );
    }
    return issueTokens(o, res, user, clientId, form.get('scope') ?? grant.scope, undefined);
  }
  return oauthError(
    res,
    400,
    'unsupported_grant_type',
    70003,
    `The app requested an unsupported grant type '${grantType ?? ''}'.`,
  );
}
