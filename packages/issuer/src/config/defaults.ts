/**
 * The configuration a file gets for every key it leaves out, taken from the schemas and finished
 * as the loader finishes them, so the defaults are written once (in sections/*.ts). Test issuers
 * (`@gatehouse/issuer/testing`) start from these.
 */
import { configSchema, type IssuerConfig } from './schema.ts';
import { finishExpiry } from './sections/expiry.ts';
import { finishOAuth2 } from './sections/oauth2.ts';
import { finishSigner } from './sections/signer.ts';

/** Every section but the two a file must set (`issuer`, `storage`); a fresh copy per call. */
export function configDefaults(): Omit<IssuerConfig, 'issuer' | 'storage'> {
  const {
    issuer: _issuer,
    storage: _storage,
    ...parsed
  } = configSchema.parse({ issuer: 'http://127.0.0.1/', storage: { type: 'memory' } });
  return {
    ...parsed,
    expiry: finishExpiry(parsed.expiry, {}),
    signer: finishSigner(parsed.signer, {}),
    oauth2: finishOAuth2(parsed.oauth2, {}),
    staticClients: [],
    connectors: [],
    staticPasswords: [],
  };
}
