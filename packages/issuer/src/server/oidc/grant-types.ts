/** The grant types the issuer offers: `oauth2.grantTypes` ∩ what is implemented. */
import type { IssuerConfig } from '../../config/types.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function grantTypesOffered(config: IssuerConfig): string[] {
  const implemented = new Set(['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT]);
  if (config.oauth2.passwordConnector) implemented.add('password');
  return config.oauth2.grantTypes.filter((g) => implemented.has(g));
}
