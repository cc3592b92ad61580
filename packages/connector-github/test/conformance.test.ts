import { runConnectorConformance } from '@gatehouse/connector-kit/testing';
import type { FakeGitHub } from '@gatehouse/testkit/github';
import { afterAll, beforeAll, expect } from 'vitest';
import { factory } from '../src/index.ts';
import { dotComConfig, driveLogin, startWorld } from './fixtures.ts';

let gh: FakeGitHub;

beforeAll(async () => {
  gh = await startWorld({ signedInAs: 'alice' });
});
afterAll(async () => {
  await gh.close();
});

for (const mode of ['github.com', 'GitHub Enterprise'] as const) {
  let ghe: FakeGitHub | undefined;
  const fake = (): FakeGitHub => (mode === 'github.com' ? gh : (ghe ?? gh));
  if (mode === 'GitHub Enterprise') {
    beforeAll(async () => {
      ghe = await startWorld({ https: true, signedInAs: 'alice' });
    });
    afterAll(async () => {
      await ghe?.close();
    });
  }
  runConnectorConformance({
    name: `github connector (${mode})`,
    factory,
    config: () =>
      mode === 'github.com'
        ? dotComConfig(gh, { orgs: [{ name: 'acme' }], requestTimeout: '1s' })
        : {
            clientID: 'gh-client-id',
            clientSecret: 'gh-client-secret-value',
            hostName: fake().hostName,
            rootCA: fake().caFile,
            orgs: [{ name: 'acme', teams: ['SRE'] }],
            requestTimeout: '1s',
          },
    context: { callbackURL: 'https://issuer.test/dex/callback' },
    invalidConfigs: [
      { config: { clientSecret: 'x' }, path: 'clientID' },
      { config: { clientID: 'x', clientSecret: 'y', org: 'a', orgs: [{ name: 'b' }] }, path: 'org' },
      { config: { clientID: 'x', clientSecret: 'y', hostName: 'https://ghe.example.com/' }, path: 'hostName' },
      { config: { clientID: 'x', clientSecret: 'y', rootCA: '/etc/ca.pem' }, path: 'rootCA' },
      { config: { clientID: 'x', clientSecret: 'y', teamNameField: 'id' }, path: 'teamNameField' },
      { config: { clientID: 'x', clientSecret: 'y', preferredEmailDomain: 'example.*' }, path: 'preferredEmailDomain' },
      { config: { clientID: 'x', clientSecret: 'y', apiURL: 'http://proxy.example.com' }, path: 'apiURL' },
      { config: { clientID: 'x', clientSecret: 'y', orgs: [{ name: 'a', team: ['b'] }] }, path: 'orgs.0' },
      { config: { clientID: 'x', clientSecret: 'y', unknownKey: true }, path: '' },
    ],
    callback: { driveLogin: (loginURL) => driveLogin(fake(), loginURL) },
    refresh: {
      removeUser: () => fake().removeFromOrg('acme', 'alice'),
      restoreUser: () => fake().addToOrg('acme', 'alice', ['Platform Team', 'SRE']),
    },
    faults: [
      {
        name: 'HTTP 503',
        set: () => fake().setFault({ kind: 'serverError', status: 503, on: 'all' }),
        clear: () => fake().setFault(undefined),
      },
      {
        name: 'rate limited',
        set: () => fake().setFault({ kind: 'rateLimit', on: 'all' }),
        clear: () => fake().setFault(undefined),
      },
      {
        name: 'hangs',
        set: () => fake().setFault({ kind: 'hang', on: 'all' }),
        clear: () => fake().setFault(undefined),
      },
    ],
    identity: {
      expectGroups: true,
      check(identity) {
        expect(identity.userId).toBe('1001');
        expect(identity.emailVerified).toBe(true);
        expect(identity.groups).toContain('acme:SRE');
      },
    },
    callTimeoutMs: 10_000,
  });
}
