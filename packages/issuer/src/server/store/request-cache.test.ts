import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { MemoryStore, type ModelName, type ModelStore, type Store } from '@gatehouse/storage';
import { requestScope, withRequestCache } from './request-cache.ts';

/** A real MemoryStore whose model reads are counted per model. */
function countingStore(): { store: Store; reads: Map<string, number> } {
  const inner = new MemoryStore();
  const reads = new Map<string, number>();
  const model = inner.model.bind(inner);
  inner.model = (name: ModelName): ModelStore => {
    const m = model(name);
    return {
      ...m,
      upsert: m.upsert.bind(m),
      consume: m.consume.bind(m),
      destroy: m.destroy.bind(m),
      revokeByGrantId: m.revokeByGrantId.bind(m),
      findByUid: m.findByUid.bind(m),
      findByUserCode: m.findByUserCode.bind(m),
      find: (id: string) => {
        reads.set(name, (reads.get(name) ?? 0) + 1);
        return m.find(id);
      },
    };
  };
  return { store: inner, reads };
}

/** Requests as AsyncLocalStorage scopes, like oidc-provider's koa context. */
function requests() {
  const als = new AsyncLocalStorage<object>();
  return { scope: () => als.getStore(), run: <T>(fn: () => Promise<T>) => als.run({}, fn) };
}

describe('withRequestCache', () => {
  it('reads a record once per request, and again in the next request', async () => {
    const { store, reads } = countingStore();
    const r = requests();
    const cached = withRequestCache(store, r.scope);
    await store.model('Grant').upsert('g1', { accountId: 'a' }, 60);
    await r.run(async () => {
      const [a, b] = await Promise.all([cached.model('Grant').find('g1'), cached.model('Grant').find('g1')]);
      const c = await cached.model('Grant').find('g1');
      expect(a).toEqual({ accountId: 'a' });
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      // Each caller gets its own copy.
      a!.accountId = 'changed';
      expect((await cached.model('Grant').find('g1'))?.accountId).toBe('a');
    });
    expect(reads.get('Grant')).toBe(1);
    await r.run(async () => {
      await cached.model('Grant').find('g1');
    });
    expect(reads.get('Grant')).toBe(2);
  });

  it('an upsert in the request is what the next find returns; consume, destroy, revokeByGrantId make it read again', async () => {
    const { store, reads } = countingStore();
    const r = requests();
    const cached = withRequestCache(store, r.scope);
    await r.run(async () => {
      const grants = cached.model('Grant');
      expect(await grants.find('g')).toBeUndefined();
      await grants.upsert('g', { v: 1 }, 60);
      expect(await grants.find('g')).toEqual({ v: 1 });
      await grants.upsert('g', { v: 2 }, 60);
      expect(await grants.find('g')).toEqual({ v: 2 });
      await grants.destroy('g');
      expect(await grants.find('g')).toBeUndefined();

      const codes = cached.model('AuthorizationCode');
      await codes.upsert('c', { grantId: 'g2' }, 60);
      expect((await codes.find('c'))?.consumed).toBeUndefined();
      expect(await codes.consume('c')).toBe(true);
      expect((await codes.find('c'))?.consumed).toEqual(expect.any(Number));
      await codes.revokeByGrantId('g2');
      expect(await codes.find('c')).toBeUndefined();
    });
    // Grant: the first find and the one after destroy; AuthorizationCode: after consume and revoke.
    expect(reads.get('Grant')).toBe(2);
    expect(reads.get('AuthorizationCode')).toBe(2);
  });

  it('a written payload is remembered as the store keeps it (JSON), not when written expired or consumed', async () => {
    const { store, reads } = countingStore();
    const r = requests();
    const cached = withRequestCache(store, r.scope);
    await r.run(async () => {
      const grants = cached.model('Grant');
      const payload = { v: 1, gone: undefined, nested: { a: [1] } };
      await grants.upsert('g', payload, 60);
      payload.nested.a.push(2);
      expect(await grants.find('g')).toStrictEqual({ v: 1, nested: { a: [1] } });
      expect(reads.get('Grant')).toBeUndefined();
      await grants.upsert('expired', { v: 1 }, 0);
      await grants.find('expired');
      await grants.upsert('c', { v: 1, consumed: true }, 60);
      expect((await grants.find('c'))?.consumed).toBe(true);
      expect(reads.get('Grant')).toBe(2);
    });
  });

  it('of two overlapping upserts of one record, only the one started last is remembered', async () => {
    const { store } = countingStore();
    const r = requests();
    const cached = withRequestCache(store, r.scope);
    await r.run(async () => {
      const grants = cached.model('Grant');
      const first = grants.upsert('g', { v: 1 }, 60);
      const second = grants.upsert('g', { v: 2 }, 60);
      await second;
      await first;
      expect(await grants.find('g')).toEqual({ v: 2 });
    });
  });

  it('requestScope() makes each koa request a scope for routes outside oidc-provider', async () => {
    const { store, reads } = countingStore();
    const cached = withRequestCache(store);
    await store.model('Interaction').upsert('i', { uid: 'u' }, 60);
    const middleware = requestScope();
    const twice = async () => {
      await cached.model('Interaction').find('i');
      await cached.model('Interaction').find('i');
    };
    await middleware({}, twice);
    expect(reads.get('Interaction')).toBe(1);
    await middleware({}, twice);
    expect(reads.get('Interaction')).toBe(2);
    // Outside a request: every find reads.
    await twice();
    expect(reads.get('Interaction')).toBe(4);
  });

  it('another request writing meanwhile is not seen by a request that already read (one snapshot per request)', async () => {
    const { store } = countingStore();
    const r = requests();
    const cached = withRequestCache(store, r.scope);
    await store.model('Grant').upsert('g', { v: 1 }, 60);
    await r.run(async () => {
      expect(await cached.model('Grant').find('g')).toEqual({ v: 1 });
      await r.run(() => cached.model('Grant').upsert('g', { v: 2 }, 60));
      expect(await cached.model('Grant').find('g')).toEqual({ v: 1 });
    });
    await r.run(async () => expect(await cached.model('Grant').find('g')).toEqual({ v: 2 }));
  });

  it('never caches RefreshToken (rotation polls it for a racing winner) nor reads outside a request', async () => {
    const { store, reads } = countingStore();
    const r = requests();
    const cached = withRequestCache(store, r.scope);
    await store.model('RefreshToken').upsert('rt', { grantId: 'g' }, 60);
    await store.model('Grant').upsert('g', { v: 1 }, 60);
    await r.run(async () => {
      await cached.model('RefreshToken').find('rt');
      await cached.model('RefreshToken').find('rt');
    });
    expect(reads.get('RefreshToken')).toBe(2);
    await cached.model('Grant').find('g');
    await cached.model('Grant').find('g');
    expect(reads.get('Grant')).toBe(2);
  });

  it('a failed read is not remembered: the next find asks the store again', async () => {
    const inner = new MemoryStore();
    const r = requests();
    await inner.model('Grant').upsert('g', { v: 1 }, 60);
    const grants = inner.model('Grant');
    const find = grants.find.bind(grants);
    let failures = 1;
    grants.find = async (id: string) => {
      if (failures-- > 0) throw new Error('unavailable');
      return find(id);
    };
    const cached = withRequestCache(inner, r.scope);
    await r.run(async () => {
      await expect(cached.model('Grant').find('g')).rejects.toThrow('unavailable');
      expect(await cached.model('Grant').find('g')).toEqual({ v: 1 });
    });
  });

  it('is idempotent and passes every other store member through', async () => {
    const inner = new MemoryStore();
    const cached = withRequestCache(inner);
    expect(withRequestCache(cached)).toBe(cached);
    expect(cached.type).toBe('memory');
    expect(cached.keys).toBe(inner.keys);
    expect(cached.clients).toBe(inner.clients);
    expect(cached.offlineSessions).toBe(inner.offlineSessions);
    await cached.ping();
    await cached.close();
    await expect(inner.ping()).rejects.toThrow();
  });
});
