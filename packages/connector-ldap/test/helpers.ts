import type { ConnectorContext, ConnectorLogger } from '@gatehouse/connector-kit';
import type { Slapd } from '@gatehouse/testkit/slapd';
import { type LdapConfig, type LdapConfigInput, LdapConnector, ldapConfigSchema } from '../src/index.ts';

export interface LogRecord {
  level: string;
  obj: object;
  msg?: string;
}

/** A logger that keeps records so tests can check what was (and was not) logged. */
export function memoryLogger(records: LogRecord[] = []): ConnectorLogger & { records: LogRecord[] } {
  const make = (bindings: object): ConnectorLogger & { records: LogRecord[] } => {
    const at =
      (level: string) =>
      (obj: object, msg?: string): void => {
        records.push({ level, obj: { ...bindings, ...obj }, ...(msg === undefined ? {} : { msg }) });
      };
    return {
      records,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}

export function context(logger: ConnectorLogger = memoryLogger()): ConnectorContext {
  return { logger, issuerURL: 'https://auth.example.test/dex', callbackURL: 'https://auth.example.test/dex/callback' };
}

/** A Dex-style config for the seeded directory over plain LDAP; override any key. */
export function configFor(slapd: Slapd, overrides: Partial<LdapConfigInput> = {}): LdapConfigInput {
  const { seed } = slapd;
  return {
    host: `127.0.0.1:${slapd.port}`,
    insecureNoSSL: true,
    bindDN: seed.service.dn,
    bindPW: seed.service.password,
    usernamePrompt: 'Username',
    userSearch: {
      baseDN: seed.baseDN,
      filter: seed.enabledUserFilter,
      username: 'uid',
      idAttr: 'uid',
      emailAttr: 'mail',
      nameAttr: 'cn',
      preferredUsernameAttr: 'uid',
    },
    groupSearch: {
      baseDN: seed.groupsDN,
      filter: '(objectClass=groupOfNames)',
      userMatchers: [{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'DN' }],
      nameAttr: 'cn',
    },
    connectTimeout: '3s',
    requestTimeout: '5s',
    ...overrides,
  };
}

export function parse(input: LdapConfigInput): LdapConfig {
  return ldapConfigSchema.parse(input);
}

export function open(input: LdapConfigInput, logger?: ConnectorLogger): LdapConnector {
  return new LdapConnector('ldap', parse(input), context(logger));
}

export const withGroups = { offlineAccess: true, groups: true } as const;
export const noGroups = { offlineAccess: false, groups: false } as const;
