// From verified id_token / bearer claims to an identity, with oauth2-proxy's claim choices.
import type { JWTPayload } from 'jose';
import type { Identity } from './authz.ts';

export interface ClaimOptions {
  readonly emailClaim: string;
  readonly groupsClaim: string;
  readonly allowUnverifiedEmail: boolean;
}

export type ClaimsResult = { ok: true; identity: Identity } | { ok: false; reason: string };

export function identityFromClaims(claims: JWTPayload, o: ClaimOptions): ClaimsResult {
  if (typeof claims.sub !== 'string' || claims.sub === '') return { ok: false, reason: 'the token has no subject' };
  const rawEmail = claims[o.emailClaim];
  const email = typeof rawEmail === 'string' && rawEmail !== '' ? rawEmail : undefined;
  if (email !== undefined && claims.email_verified !== true && !o.allowUnverifiedEmail) {
    return { ok: false, reason: 'the email address is not verified' };
  }
  const rawGroups = claims[o.groupsClaim];
  const groups = Array.isArray(rawGroups)
    ? rawGroups.filter((g): g is string => typeof g === 'string' && g !== '')
    : typeof rawGroups === 'string' && rawGroups !== ''
      ? [rawGroups]
      : [];
  const preferred = typeof claims.preferred_username === 'string' && claims.preferred_username !== '' ? claims.preferred_username : undefined;
  return {
    ok: true,
    identity: { user: claims.sub, groups, ...(email === undefined ? {} : { email }), ...(preferred === undefined ? {} : { preferredUsername: preferred }) },
  };
}
