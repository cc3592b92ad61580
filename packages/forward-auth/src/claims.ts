// From verified id_token / bearer claims to an identity, with oauth2-proxy's claim choices.
import type { JWTPayload } from 'jose';
import type { Identity } from './authz.ts';

export interface ClaimOptions {
  /** The claim that becomes `X-Auth-Request-User` (oauth2-proxy's `user_id_claim`); `sub` when absent. */
  readonly userIdClaim: string;
  readonly emailClaim: string;
  readonly groupsClaim: string;
  readonly allowUnverifiedEmail: boolean;
}

/** The claim choices of a configuration (shared by login, refresh and bearer tokens). */
export function claimOptions(cfg: {
  readonly user_id_claim: string;
  readonly oidc_email_claim: string;
  readonly oidc_groups_claim: string;
  readonly insecure_oidc_allow_unverified_email: boolean;
}): ClaimOptions {
  return {
    userIdClaim: cfg.user_id_claim,
    emailClaim: cfg.oidc_email_claim,
    groupsClaim: cfg.oidc_groups_claim,
    allowUnverifiedEmail: cfg.insecure_oidc_allow_unverified_email,
  };
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
  const rawUser = claims[o.userIdClaim];
  const user = typeof rawUser === 'string' && rawUser !== '' ? rawUser : claims.sub;
  const preferred =
    typeof claims.preferred_username === 'string' && claims.preferred_username !== ''
      ? claims.preferred_username
      : undefined;
  return {
    ok: true,
    identity: {
      user,
      groups,
      ...(email === undefined ? {} : { email }),
      ...(preferred === undefined ? {} : { preferredUsername: preferred }),
    },
  };
}
