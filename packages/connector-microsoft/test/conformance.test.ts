import { afterAll, beforeAll, expect } from 'vitest';
import { runConnectorConformance } from '@gatehouse/connector-kit/testing';
import type { FakeEntra } from '@gatehouse/testkit/entra';
import { factory } from '../src/index.ts';
import { baseConfig, CALLBACK, groups, startEntra } from './fixtures.ts';

let fake: FakeEntra;
let restore: (() => void) | undefined;

beforeAll(async () => {
  fake = await startEntra();
});
afterAll(() => fake.close());

runConnectorConformance({
  name: 'microsoft',
  factory,
  config: () => baseConfig(fake, { timeoutSeconds: 1 }),
  context: { callbackURL: CALLBACK },
  invalidConfigs: [
    { config: { clientSecret: 'x' }, path: 'clientID' },
    { config: { clientID: 'x' }, path: 'clientSecret' },
    { config: { clientID: 'x', clientSecret: 'y', tenant: 'not a tenant' }, path: 'tenant' },
    { config: { clientID: 'x', clientSecret: 'y', groupNameFormat: 'email' }, path: 'groupNameFormat' },
    { config: { clientID: 'x', clientSecret: 'y', apiURL: 'http://login.example.com' }, path: 'apiURL' },
    { config: { clientID: 'x', clientSecret: 'y', allowedTenants: ['contoso.com'] }, path: 'allowedTenants.0' },
    { config: { clientID: 'x', clientSecret: 'y', clientAssertion: '/file' }, path: '' },
  ],
  callback: {
    driveLogin: async (loginURL) => ({
      url: await fake.signIn(loginURL, { username: 'ada@contoso.test', password: 'Passw0rd!ada' }),
      method: 'GET',
    }),
  },
  identity: {
    expectGroups: true,
    check: (identity) => {
      expect(identity.userId).toBe(fake.oidOf('ada@contoso.test'));
      expect(identity.email).toBe('Ada.Lovelace@Contoso.test');
      expect(identity.groups).toEqual(expect.arrayContaining(['Developers', 'Everyone', 'Newsletter']));
      expect(JSON.stringify(identity.connectorData)).not.toContain(groups.devs.id);
    },
  },
  refresh: {
    removeUser: (identity) => {
      restore = fake.removeUser(identity.userId);
    },
    restoreUser: () => restore?.(),
  },
  faults: [
    { name: 'Entra ID is down', set: () => fake.setDown(true), clear: () => fake.setDown(false) },
    {
      name: 'the token endpoint answers 503',
      set: () => fake.setFault({ where: 'token', status: 503 }),
      clear: () => fake.clearFaults(),
    },
    {
      name: 'Graph answers 500',
      set: () => fake.setFault({ where: 'graph', status: 500 }),
      clear: () => fake.clearFaults(),
      code: 'upstream_error',
    },
    { name: 'Graph hangs', set: () => fake.setFault({ where: 'graph', hang: true }), clear: () => fake.clearFaults() },
    {
      name: 'the token endpoint hangs',
      set: () => fake.setFault({ where: 'token', hang: true }),
      clear: () => fake.clearFaults(),
    },
    {
      name: 'Graph throttles with a long Retry-After',
      set: () => fake.setFault({ where: 'graph', status: 429, retryAfter: 120 }),
      clear: () => fake.clearFaults(),
    },
  ],
});
