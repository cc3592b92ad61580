import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { ConnectorError, constantTimeEqual } from '@gatehouse/connector-kit';
import { CONSUMERS_TENANT_ID, isMultiTenant } from './config.ts';
import type { MicrosoftConfig } from './config.ts';
import { httpRequest, statusError } from './http.ts';

export interface EntraClaims extends JWTPayload {
  oid: string;
  tid: string;
  nonce?: string;
  name?: string;
  preferred_username?: string;
  email?: string;
  /** Optional claim: the email's domain is verified by its owner. */
  xms_edov?: boolean | string;
}

export type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** The tenant's signing keys, fetched (bounded) and cached by jose. */
export function tenantKeys(jwksURI: string, config: MicrosoftConfig): KeySet {
  const timeoutMs = config.timeoutSeconds * 1000;
  return createRemoteJWKSet(new URL(jwksURI), {
    timeoutDuration: timeoutMs,
    cooldownDuration: 30_000,
    cacheMaxAge: 24 * 60 * 60 * 1000,
    [customFetch]: async (url: string) => {
      const what = 'Entra ID signing keys';
      const response = await httpRequest(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeoutMs,
        what,
      });
      if (response.status !== 200) throw statusError(what, response.status, response.headers);
      return new Response(response.text, { status: 200, headers: response.headers });
    },
  });
}

/** The nonce is this login's secret: compared in constant time. */
function sameNonce(actual: unknown, expected: string): boolean {
  return typeof actual === 'string' && constantTimeEqual(actual, expected);
}

const refused = (why: string) =>
  new ConnectorError('upstream_error', `id_token refused: ${why}`, {
    userMessage: 'The answer from Microsoft could not be verified. Please try again.',
  });

/**
 * Verifies an id_token as msal does not: RS256 signature against the tenant's keys, audience =
 * clientID, issuer = `{apiURL}/{tid}/v2.0` of the token's own tenant, the tenant allowed by the
 * configuration, and (at login) the nonce of this login.
 */
export async function verifyIdToken(
  idToken: string,
  config: MicrosoftConfig,
  keys: KeySet,
  expected: { nonce?: string; tenantIssuer: string },
): Promise<EntraClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keys, {
      algorithms: ['RS256'],
      audience: config.clientID,
      clockTolerance: 60,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'oid', 'tid'],
    }));
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    if (error instanceof joseErrors.JWKSTimeout) {
      throw new ConnectorError('upstream_unavailable', 'Entra ID signing keys did not answer in time', {
        cause: error,
      });
    }
    if (error instanceof joseErrors.JOSEError) throw refused(`${error.code}: ${error.message}`);
    throw refused(String(error));
  }
  const claims = payload as EntraClaims;
  if (typeof claims.oid !== 'string' || typeof claims.tid !== 'string' || claims.oid === '' || claims.tid === '') {
    throw refused('oid/tid missing');
  }
  const tid = claims.tid.toLowerCase();
  // The metadata issuer is `{apiURL}/{tenantid}/v2.0` for common/organizations/consumers, a fixed tenant otherwise.
  const issuer = expected.tenantIssuer.replace('{tenantid}', claims.tid);
  if (claims.iss !== issuer || claims.iss !== `${config.apiURL}/${claims.tid}/v2.0`) {
    throw refused(`issuer ${String(claims.iss)} is not ${issuer}`);
  }
  if (expected.nonce !== undefined && !sameNonce(claims.nonce, expected.nonce)) {
    throw new ConnectorError('invalid_state', 'id_token nonce does not match this login', {
      userMessage: 'This sign-in could not be completed; please start again.',
    });
  }
  if (config.tenant === 'consumers' && tid !== CONSUMERS_TENANT_ID) throw refused('not a personal Microsoft account');
  if (isMultiTenant(config) && config.allowedTenants.length > 0 && !config.allowedTenants.includes(tid)) {
    throw new ConnectorError('access_denied', `tenant ${tid} is not in allowedTenants`, {
      userMessage: 'Accounts from your organization are not allowed to sign in here.',
    });
  }
  return claims;
}
