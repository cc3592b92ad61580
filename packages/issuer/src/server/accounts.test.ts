import { describe, expect, it } from 'vitest';
import type { Connector, Identity } from '@gatehouse/connector-kit';
import { MemoryStore, type ModelPayload } from '@gatehouse/storage';
import type { ExpiryConfig } from '../config/types.ts';
import { createFindAccount, GrantIdentities, lastUsedStaleness, type GrantIdentity } from './accounts.ts';
import { GRANT_EXTENSION } from './adapter.ts';

const DAY = 86400;
const now = (): number => Math.floor(Date.now() / 1000);

function expiry(refreshTokens: Partial<ExpiryConfig['refreshTokens']> = {}): ExpiryConfig {
  return {
    signingKeys: 6 * 3600,
    idTokens: DAY,
    authRequests: 3600,
    deviceRequests: 300,
    authCodes: 600,
    refreshTokens: { disableRotation: false, reuseInterval: 3, absoluteLifetime: 90 * DAY, validIfNotUsedFor: 30 * DAY, ...refreshTokens },
  };
}

const ALICE: Identity = { userId: 'u1', username: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['staff'] };

/** A real MemoryStore, a connector whose upstream answer the test sets, and the Grant writes counted. */
function setup(policy: Partial<ExpiryConfig['refreshTokens']> = {}) {
  const store = new MemoryStore();
  const grants = store.model('Grant');
  let writes = 0;
  const upsert = grants.upsert.bind(grants);
  grants.upsert = (id: string, payload: ModelPayload, expiresIn?: number) => {
    writes++;
    return upsert(id, payload, expiresIn);
  };
  const upstream = { identity: ALICE as Identity };
  const connector: Connector = {
    kind: 'password',
    prompt: 'Username',
    login: async () => ({ ok: false }),
    refresh: async (_scopes, identity) => ({ ...upstream.identity, userId: identity.userId }),
  };
  const findAccount = createFindAccount({
    clients: { connectorAllowed: async () => true },
    grants: new GrantIdentities(store),
    store,
    connectors: new Map([['ldap', { id: 'ldap', type: 'ldap', name: 'LDAP', connector }]]),
    expiry: expiry(policy),
    logger: { warn: () => {} },
  });
  const grant = async (ext: Partial<GrantIdentity>): Promise<void> => {
    const { identity: _hidden, ...rest } = ext;
    await upsert('g1', { jti: 'g1', accountId: 'sub', clientId: 'app', [GRANT_EXTENSION]: { connectorId: 'ldap', identity: ALICE, audience: [], createdAt: now(), lastUsed: now(), ...rest } }, DAY);
  };
  /** One refresh at the token endpoint (its own request context), presenting a token issued at `iat`. */
  const refresh = async (iat = now()) => {
    const ctx = { oidc: { route: 'token', client: { clientId: 'app' } } } as never;
    const account = await findAccount(ctx, 'sub', { grantId: 'g1', kind: 'RefreshToken', scope: 'openid groups offline_access', iat });
    return account ? (account.claims() as Record<string, unknown>) : undefined;
  };
  const stored = async () => (await store.model('Grant').find('g1'))?.[GRANT_EXTENSION] as GrantIdentity;
  return { upstream, grant, refresh, stored, writes: () => writes };
}

describe('findAccount on refresh: when the grant is rewritten', () => {
  it('not when the identity is unchanged and last-used is fresh; the claims are still the upstream ones', async () => {
    const t = setup();
    await t.grant({});
    expect((await t.refresh())?.email).toBe('alice@example.com');
    expect(t.writes()).toBe(0);
  });

  it('when the upstream identity changed (claims and stored identity follow it)', async () => {
    const t = setup();
    await t.grant({});
    t.upstream.identity = { ...ALICE, groups: ['staff', 'admins'] };
    expect((await t.refresh())?.groups).toEqual(['staff', 'admins']);
    expect(t.writes()).toBe(1);
    expect((await t.stored()).identity.groups).toEqual(['staff', 'admins']);
  });

  it('when last-used is a tenth of the idle window old, and then it is brought up to date', async () => {
    const t = setup({ validIfNotUsedFor: 1000 });
    await t.grant({ lastUsed: now() - 100 });
    await t.refresh();
    expect(t.writes()).toBe(1);
    expect((await t.stored()).lastUsed).toBeGreaterThanOrEqual(now() - 1);
    await t.refresh();
    expect(t.writes()).toBe(1);
  });

  it('on every refresh when rotation is off (last-used is then the only record of use)', async () => {
    const t = setup({ disableRotation: true, validIfNotUsedFor: 1000 });
    await t.grant({});
    await t.refresh();
    await t.refresh();
    expect(t.writes()).toBe(2);
  });

  it('the idle window counts from the later of last-used and the presented token’s issue time', async () => {
    const t = setup({ validIfNotUsedFor: 1000 });
    // A stale last-used (not rewritten) with a token issued by a recent rotation: still valid.
    await t.grant({ lastUsed: now() - 2000 });
    expect(await t.refresh(now() - 10)).toBeDefined();
    // Both older than the idle window: expired.
    await t.grant({ lastUsed: now() - 2000 });
    await expect(t.refresh(now() - 1500)).rejects.toMatchObject({ error: 'invalid_grant' });
    // A token claiming to be issued in the future does not count.
    await t.grant({ lastUsed: now() - 2000 });
    await expect(t.refresh(now() + 5000)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('lastUsedStaleness: a tenth of the idle window with rotation, none without, an hour with no idle window', () => {
    expect(lastUsedStaleness(expiry({ validIfNotUsedFor: 30 * DAY }).refreshTokens)).toBe(3 * DAY);
    expect(lastUsedStaleness(expiry({ validIfNotUsedFor: 5 }).refreshTokens)).toBe(1);
    expect(lastUsedStaleness(expiry({ validIfNotUsedFor: 1000, disableRotation: true }).refreshTokens)).toBeUndefined();
    expect(lastUsedStaleness(expiry({ validIfNotUsedFor: 0 }).refreshTokens)).toBe(3600);
  });
});
