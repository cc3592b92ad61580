/**
 * Wraps the static `IdToken.validate` (oidc-provider 9.13.3, lib/models/id_token.js), which
 * verifies an `id_token_hint` (logout, authorization) with the provider's signing keys only, so a
 * hint signed before a key rotation was refused.
 *
 * When that fails and the hint names a retired key we still publish, it is verified with that
 * public key under the same rules (algorithm of the client, issuer, audience, subject; expiry
 * ignored, as oidc-provider does).
 */
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';
import type Provider from 'oidc-provider';
import type { KeyManager } from '../../keys/key-manager.ts';

export interface HintClient {
  clientId: string;
  idTokenSignedResponseAlg: string;
}

export type VerifiedHint = { payload: Record<string, unknown>; header: Record<string, unknown> };

export interface ValidatingIdToken {
  validate(jwt: string, client: HintClient): Promise<VerifiedHint>;
}

export function patchRetiredKeyHints(provider: Provider, keys: KeyManager): void {
  const IdToken = provider.IdToken as unknown as ValidatingIdToken;
  const original = IdToken.validate.bind(IdToken);
  IdToken.validate = async (jwt, client) => {
    try {
      return await original(jwt, client);
    } catch (err) {
      const verified = await verifyWithRetiredKey(jwt, client, provider.issuer, keys).catch(() => undefined);
      if (!verified) throw err;
      return verified;
    }
  };
}

async function verifyWithRetiredKey(
  jwt: string,
  client: HintClient,
  issuer: string,
  keys: KeyManager,
): Promise<VerifiedHint | undefined> {
  const alg = client.idTokenSignedResponseAlg;
  if (typeof jwt !== 'string' || alg.startsWith('HS')) return undefined;
  const header = decodeProtectedHeader(jwt);
  if (header.alg !== alg || typeof header.kid !== 'string') return undefined;
  const current = new Set(keys.providerJWKS().keys.map((k) => k.kid));
  const jwk = keys.publicJWKS().keys.find((k) => k.kid === header.kid && !current.has(k.kid));
  if (!jwk) return undefined;
  await compactVerify(jwt, await importJWK(jwk as Parameters<typeof importJWK>[0], alg), { algorithms: [alg] });
  const payload = decodeJwt(jwt) as Record<string, unknown>;
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (payload.iss !== issuer || !aud.includes(client.clientId) || typeof payload.sub !== 'string') return undefined;
  return { payload, header: header as Record<string, unknown> };
}
