import { describe, expect, it } from 'vitest';
import { errors } from 'oidc-provider';
import { MemoryStore } from '@gatehouse/storage';
import { createAdapterFactory, GRANT_EXTENSION } from './adapter.ts';
import type { ClientDirectory } from '../oidc/clients.ts';
import { RefreshPolicy } from '../grants/refresh-policy.ts';

/** The policy with a reuse window of `reuseInterval` seconds (0: none). */
const reuse = (reuseInterval: number, now?: () => number) =>
  new RefreshPolicy(
    {
      idTokens: 60,
      authCodes: 60,
      refreshTokens: { disableRotation: false, reuseInterval, absoluteLifetime: 0, validIfNotUsedFor: 0 },
    },
    now ? { now } : {},
  );

const clients = {
  metadataFor: async (id: string) => (id === 'c' ? { client_id: 'c' } : undefined),
} as unknown as ClientDirectory;

describe('store adapter', () => {
  it('of many concurrent consumes exactly one wins; the others throw InvalidGrant', async () => {
    const store = new MemoryStore();
    const adapter = createAdapterFactory({ store, clients, refresh: reuse(0) })('AuthorizationCode');
    await adapter.upsert(
      'code-1',
      { jti: 'code-1', kind: 'AuthorizationCode', exp: Math.floor(Date.now() / 1000) + 60 },
      60,
    );
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => adapter.consume('code-1')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(errors.InvalidGrant);
    }
    expect((await adapter.find('code-1'))?.consumed).toBeTruthy();
    await store.close();
  });

  it('a rotated refresh token looks unconsumed within the reuse interval only', async () => {
    const store = new MemoryStore();
    let now = Date.now();
    const factory = createAdapterFactory({ store, clients, refresh: reuse(3, () => now) });
    const rt = factory('RefreshToken');
    await rt.upsert('rt-1', { jti: 'rt-1', kind: 'RefreshToken' }, 600);
    await rt.consume('rt-1');
    expect((await rt.find('rt-1'))?.consumed).toBeUndefined();
    // Consuming again is never granted here: the reuse yields the recorded successor (grants/refresh-rotation.ts).
    await expect(rt.consume('rt-1')).rejects.toBeInstanceOf(errors.InvalidGrant);
    now += 5000;
    expect((await rt.find('rt-1'))?.consumed).toBeTruthy();
    await store.close();
  });

  it('keeps the grant identity when oidc-provider re-saves a grant', async () => {
    const store = new MemoryStore();
    const grant = createAdapterFactory({ store, clients, refresh: reuse(0) })('Grant');
    await store.model('Grant').upsert('g', { jti: 'g', kind: 'Grant', [GRANT_EXTENSION]: { connectorId: 'x' } }, 60);
    await grant.upsert('g', { jti: 'g', kind: 'Grant', accountId: 'a' }, 60);
    expect((await grant.find('g'))?.[GRANT_EXTENSION]).toEqual({ connectorId: 'x' });
    await store.close();
  });

  it('serves clients from the directory and ignores oversized ids', async () => {
    const store = new MemoryStore();
    const factory = createAdapterFactory({ store, clients, refresh: reuse(0) });
    expect(await factory('Client').find('c')).toEqual({ client_id: 'c' });
    expect(await factory('Client').find('d')).toBeUndefined();
    expect(await factory('AccessToken').find('x'.repeat(10_000))).toBeUndefined();
    await store.close();
  });
});
