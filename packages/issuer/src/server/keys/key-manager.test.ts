import { describe, expect, it } from 'vitest';
import { MemoryStore } from '@gatehouse/storage';
import { KeyManager } from './key-manager.ts';

describe('KeyManager', () => {
  it('creates keys once, rotates when due, and prunes retired keys after the verification period', async () => {
    const store = new MemoryStore();
    let now = 1_000_000_000;
    const km = new KeyManager({
      store: store.keys,
      algorithms: ['ES256'],
      rotationPeriod: 100,
      verificationPeriod: 50,
      now: () => now,
    });
    expect(await km.refresh()).toBe(true);
    const first = km.providerJWKS().keys.map((k) => k.kid);
    const cookie = km.cookieKeys();
    expect(first).toHaveLength(1);
    expect(cookie).toHaveLength(1);
    expect(await km.refresh()).toBe(false);

    now += 100_000; // due
    expect(await km.refresh()).toBe(true);
    const second = km.providerJWKS().keys.map((k) => k.kid);
    expect(second).not.toEqual(first);
    expect(
      km
        .publicJWKS()
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual([...first, ...second].sort());
    expect(km.cookieKeys()).toEqual(cookie); // cookie secret survives rotation
    for (const k of km.publicJWKS().keys) expect(k.d).toBeUndefined();

    now += 60_000; // first key's verification period is over
    expect(km.publicJWKS().keys.map((k) => k.kid)).toEqual(second);
    await store.close();
  });

  it("replicas agree: the loser of a compare-and-swap adopts the winner's keys", async () => {
    const store = new MemoryStore();
    const options = {
      store: store.keys,
      algorithms: ['RS256', 'EdDSA'] as Array<'RS256' | 'EdDSA'>,
      rotationPeriod: 3600,
      verificationPeriod: 60,
    };
    const a = new KeyManager(options);
    const b = new KeyManager(options);
    await Promise.all([a.refresh(), b.refresh()]);
    expect(a.version).toBe(b.version);
    await Promise.all([a.rotate(), b.rotate()]);
    expect(a.version).toBe(b.version);
    expect(a.providerJWKS()).toEqual(b.providerJWKS());
    expect(a.providerJWKS().keys.map((k) => k.alg)).toEqual(['RS256', 'EdDSA']);
    await store.close();
  });

  it('adds a key for an algorithm added to the config', async () => {
    const store = new MemoryStore();
    await new KeyManager({
      store: store.keys,
      algorithms: ['RS256'],
      rotationPeriod: 3600,
      verificationPeriod: 60,
    }).refresh();
    const km = new KeyManager({
      store: store.keys,
      algorithms: ['RS256', 'ES256'],
      rotationPeriod: 3600,
      verificationPeriod: 60,
    });
    await km.refresh();
    expect(km.providerJWKS().keys.map((k) => k.alg)).toEqual(['RS256', 'ES256']);
    await store.close();
  });
});
