import { describe, expect, it } from 'vitest';
import { ConnectorError, type Connector, type Identity } from '@gatehouse/connector-kit';
import { MemoryStore, type ModelPayload } from '@gatehouse/storage';
import { configDefaults } from '../../config/defaults.ts';
import type { ExpiryConfig } from '../../config/types.ts';
import { createFindAccount, GrantIdentities, type GrantIdentity } from './accounts.ts';
import { RefreshPolicy } from './refresh-policy.ts';
import { GRANT_EXTENSION } from '../store/adapter.ts';

const DAY = 86400;
const now = (): number => Math.floor(Date.now() / 1000);

/** The default expiry section with `refreshTokens` changed. */
function expiry(refreshTokens: Partial<ExpiryConfig['refreshTokens']> = {}): ExpiryConfig {
  const defaults = configDefaults().expiry;
  return { ...defaults, refreshTokens: { ...defaults.refreshTokens, ...refreshTokens } };
}

const ALICE: Identity = {
  userId: 'u1',
  username: 'alice',
  email: 'alice@example.com',
  emailVerified: true,
  groups: ['staff'],
};

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
  const upstream: { identity: Identity; failure?: Error } = { identity: ALICE };
  const connector: Connector = {
    kind: 'password',
    prompt: 'Username',
    login: async () => ({ ok: false }),
    refresh: async (_scopes, identity) => {
      if (upstream.failure) throw upstream.failure;
      return { ...upstream.identity, userId: identity.userId };
    },
  };
  const findAccount = createFindAccount({
    clients: { connectorAllowed: async () => true },
    grants: new GrantIdentities(store),
    store,
    connectors: new Map([['ldap', { id: 'ldap', type: 'ldap', name: 'LDAP', connector }]]),
    refresh: new RefreshPolicy(expiry(policy)),
    logger: { warn: () => {} },
  });
  const grant = async (ext: Partial<GrantIdentity>): Promise<void> => {
    const { identity: _hidden, ...rest } = ext;
    await upsert(
      'g1',
      {
        jti: 'g1',
        accountId: 'sub',
        clientId: 'app',
        [GRANT_EXTENSION]: {
          connectorId: 'ldap',
          identity: ALICE,
          audience: [],
          createdAt: now(),
          lastUsed: now(),
          ...rest,
        },
      },
      DAY,
    );
  };
  /** One refresh at the token endpoint (its own request context), presenting a token issued at `iat`. */
  const headers: Record<string, string> = {};
  const refresh = async (iat = now()) => {
    const ctx = {
      oidc: { route: 'token', client: { clientId: 'app' } },
      set: (k: string, v: string) => void (headers[k] = v),
    } as never;
    const account = await findAccount(ctx, 'sub', {
      grantId: 'g1',
      kind: 'RefreshToken',
      scope: 'openid groups offline_access',
      iat,
    });
    return account ? (account.claims() as Record<string, unknown>) : undefined;
  };
  const stored = async () => (await store.model('Grant').find('g1'))?.[GRANT_EXTENSION] as GrantIdentity;
  return { upstream, grant, refresh, stored, writes: () => writes, headers, store };
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
    expect(new RefreshPolicy(expiry({ validIfNotUsedFor: 30 * DAY })).lastUsedStaleness()).toBe(3 * DAY);
    expect(new RefreshPolicy(expiry({ validIfNotUsedFor: 5 })).lastUsedStaleness()).toBe(1);
    expect(
      new RefreshPolicy(expiry({ validIfNotUsedFor: 1000, disableRotation: true })).lastUsedStaleness(),
    ).toBeUndefined();
    expect(new RefreshPolicy(expiry({ validIfNotUsedFor: 0 })).lastUsedStaleness()).toBe(3600);
  });
});

describe('findAccount on refresh: upstream failures', () => {
  it('answers a transient failure with 503 temporarily_unavailable (exposed), and its Retry-After', async () => {
    for (const code of ['upstream_unavailable', 'upstream_error'] as const) {
      const t = setup();
      await t.grant({});
      t.upstream.failure = new ConnectorError(code, 'upstream down', { retryAfter: 42 });
      const error = await t.refresh().catch((e: unknown) => e);
      expect(error).toMatchObject({
        error: 'temporarily_unavailable',
        status: 503,
        statusCode: 503,
        expose: true,
        error_description: expect.any(String),
      });
      expect(t.headers['Retry-After']).toBe('42');
      expect(t.writes()).toBe(0);
    }
  });

  it('sets no Retry-After without one from the connector', async () => {
    const t = setup();
    await t.grant({});
    t.upstream.failure = new ConnectorError('upstream_unavailable', 'upstream down');
    await expect(t.refresh()).rejects.toMatchObject({ status: 503 });
    expect(t.headers).toEqual({});
  });

  it('refuses with invalid_grant when the user can no longer be refreshed, and on non-connector errors', async () => {
    for (const failure of [
      new ConnectorError('refresh_failed', 'revoked'),
      new ConnectorError('access_denied', 'denied'),
      new ConnectorError('not_in_required_groups', 'left'),
      new Error('bug'),
    ]) {
      const t = setup();
      await t.grant({});
      t.upstream.failure = failure;
      await expect(t.refresh()).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
    }
  });

  it('stores connectorData carried by the failure (a rotated upstream token) before failing, whatever the code', async () => {
    for (const code of ['upstream_unavailable', 'refresh_failed'] as const) {
      const t = setup();
      await t.grant({});
      await t.store.offlineSessions.upsert({
        userId: 'u1',
        connectorId: 'ldap',
        connectorData: { refreshToken: 'old' },
        updatedAt: 1,
      });
      t.upstream.failure = new ConnectorError(code, 'after the swap', { connectorData: { refreshToken: 'new' } });
      await expect(t.refresh()).rejects.toBeDefined();
      expect((await t.store.offlineSessions.get('u1', 'ldap'))?.connectorData).toEqual({ refreshToken: 'new' });
    }
  });

  it('leaves the stored connectorData alone when the failure carries none', async () => {
    const t = setup();
    await t.grant({});
    await t.store.offlineSessions.upsert({
      userId: 'u1',
      connectorId: 'ldap',
      connectorData: { refreshToken: 'old' },
      updatedAt: 1,
    });
    t.upstream.failure = new ConnectorError('upstream_unavailable', 'down');
    await expect(t.refresh()).rejects.toBeDefined();
    expect((await t.store.offlineSessions.get('u1', 'ldap'))?.connectorData).toEqual({ refreshToken: 'old' });
  });
});
