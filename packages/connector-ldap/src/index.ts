import { defineConnector } from '@gatehouse/connector-kit';
import { type LdapConfig, configWarnings, ldapConfigSchema } from './config.ts';
import { LdapConnector } from './connector.ts';

export type { LdapConfig, LdapConfigInput, UserMatcher } from './config.ts';
export { ldapConfigSchema } from './config.ts';
export { LdapConnector, type LdapConnectorData } from './connector.ts';
export { DIRECTORY_UNAVAILABLE } from './connection.ts';

/** Dex's `ldap` connector: service bind, user search, user bind, group search (optionally nested). */
export const factory = defineConnector<LdapConfig>({
  type: 'ldap',
  configSchema: ldapConfigSchema,
  warnings: configWarnings,
  open: (id, config, context) => new LdapConnector(id, config, context),
});

export default factory;
