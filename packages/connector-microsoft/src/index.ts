/**
 * `@gatehouse/connector-microsoft`: Microsoft Entra ID (`type: microsoft`), Dex's config keys.
 * Authorization code + PKCE + nonce through @azure/msal-node, id_token verified with jose,
 * user and transitive groups from Microsoft Graph.
 */
import { defineConnector } from '@gatehouse/connector-kit';
import { configSchema, warnings } from './config.ts';
import type { MicrosoftConfig } from './config.ts';
import { MicrosoftConnector } from './connector.ts';

export { configSchema, warnings, MULTI_TENANT, CONSUMERS_TENANT_ID } from './config.ts';
export type { MicrosoftConfig } from './config.ts';
export { MicrosoftConnector } from './connector.ts';

export const factory = defineConnector<MicrosoftConfig>({
  type: 'microsoft',
  configSchema,
  warnings,
  open: (id, config, context) => new MicrosoftConnector(id, config, context),
});

export default factory;
