import { randomUUID } from 'node:crypto';
import { startFakeEntra } from '@gatehouse/testkit/entra';
import type { FakeEntra, FakeEntraOptions } from '@gatehouse/testkit/entra';
import { createMemoryLogger } from '@gatehouse/connector-kit/testing';
import type { ConnectorContext, Identity } from '@gatehouse/connector-kit';
import { factory } from '../src/index.ts';
import type { MicrosoftConnector } from '../src/connector.ts';

export const CALLBACK = 'https://issuer.test/dex/callback';
export const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
export const CLIENT_SECRET = 'fake-entra-client-secret-value';

export const groups = {
  admins: { id: 'a0000000-0000-0000-0000-000000000001', displayName: 'Admins' },
  devs: { id: 'a0000000-0000-0000-0000-000000000002', displayName: 'Developers' },
  everyone: { id: 'a0000000-0000-0000-0000-000000000003', displayName: 'Everyone' },
  mailing: { id: 'a0000000-0000-0000-0000-000000000004', displayName: 'Newsletter', securityEnabled: false },
};

export function defaultDirectory(overrides: Partial<FakeEntraOptions> = {}): FakeEntraOptions {
  return {
    users: [
      {
        userPrincipalName: 'ada@contoso.test',
        password: 'Passw0rd!ada',
        displayName: 'Ada Lovelace',
        mail: 'Ada.Lovelace@Contoso.test',
        groups: [groups.devs.id, groups.mailing.id],
      },
      { userPrincipalName: 'bob@contoso.test', password: 'Passw0rd!bob', displayName: 'Bob', mail: null, groups: [] },
    ],
    groups: [
      { ...groups.admins },
      { ...groups.devs, memberOf: [groups.everyone.id] },
      { ...groups.everyone },
      { ...groups.mailing },
    ],
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] }],
    ...overrides,
  };
}

export async function startEntra(overrides: Partial<FakeEntraOptions> = {}): Promise<FakeEntra> {
  const fake = await startFakeEntra(defaultDirectory(overrides));
  fake.trustInThisProcess();
  return fake;
}

export function baseConfig(fake: FakeEntra, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clientID: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    tenant: fake.tenantId,
    apiURL: fake.url,
    graphURL: fake.graphURL,
    timeoutSeconds: 2,
    ...extra,
  };
}

export function context(logger = createMemoryLogger()): ConnectorContext {
  return { logger, issuerURL: 'https://issuer.test/dex', callbackURL: CALLBACK };
}

export async function open(raw: Record<string, unknown>, logger = createMemoryLogger()): Promise<MicrosoftConnector> {
  const config = factory.configSchema.parse(raw);
  return (await factory.open(`ms-${randomUUID().slice(0, 8)}`, config, context(logger))) as MicrosoftConnector;
}

export const allScopes = { offlineAccess: true, groups: true };

/** loginURL → fake sign-in → handleCallback. */
export async function login(
  connector: MicrosoftConnector,
  fake: FakeEntra,
  username: string,
  password: string,
  scopes = allScopes,
): Promise<Identity> {
  const state = randomUUID();
  const redirect = await connector.loginURL(scopes, CALLBACK, state);
  const back = await fake.signIn(redirect.url, { username, password });
  return connector.handleCallback(scopes, JSON.parse(JSON.stringify(redirect.keep)), { url: back, method: 'GET' });
}
