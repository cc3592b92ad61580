import { runConnectorConformance } from '@gatehouse/connector-kit/testing';
import { type Slapd, startSlapd } from '@gatehouse/testkit/slapd';
import { afterAll, beforeAll, expect } from 'vitest';
import { factory } from '../src/index.ts';
import { configFor } from './helpers.ts';

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.stop();
});

const disable = (dn: string) => `dn: ${dn}\nchangetype: modify\nreplace: employeeType\nemployeeType: disabled\n`;

runConnectorConformance({
  name: 'ldap connector',
  factory,
  config: () => configFor(slapd, { connectTimeout: '2s', requestTimeout: '2s' }), // short, for the hang fault, with room on a busy machine
  invalidConfigs: [
    { config: {}, path: 'host' },
    { config: { host: 'ldap://x', userSearch: { baseDN: 'dc=x', username: 'uid' } }, path: 'host' },
    { config: { host: 'x:636', userSearch: { baseDN: 'dc=x' } }, path: 'userSearch.username' },
    {
      config: { host: 'x:636', userSearch: { baseDN: 'dc=x', username: 'uid', filter: '(uid=a' } },
      path: 'userSearch.filter',
    },
    { config: { host: 'x:636', bindDN: 'cn=a', userSearch: { baseDN: 'dc=x', username: 'uid' } }, path: 'bindPW' },
    {
      config: { host: 'x:636', userSearch: { baseDN: 'dc=x', username: 'uid' }, groupSearch: { baseDN: 'dc=x' } },
      path: 'groupSearch.userMatchers',
    },
  ],
  password: {
    username: 'jane',
    get password() {
      return slapd.seed.users.jane.password; // read once slapd has started
    },
  },
  refresh: {
    // Disabling the account makes it stop matching userSearch.filter.
    removeUser: () => slapd.modify(disable(slapd.seed.users.jane.dn)),
    restoreUser: () => slapd.modify(`dn: ${slapd.seed.users.jane.dn}\nchangetype: modify\ndelete: employeeType\n`),
  },
  faults: [
    { name: 'the directory is down', set: () => slapd.pause(), clear: () => slapd.start() },
    { name: 'the directory hangs', set: () => slapd.freeze(), clear: () => slapd.thaw() },
  ],
  identity: {
    check(identity) {
      expect(identity.email).toBe(slapd.seed.users.jane.mail);
      expect(identity.groups).toContain('everyone');
    },
  },
  callTimeoutMs: 10_000,
});
