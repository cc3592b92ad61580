import { describe, expect, it } from 'vitest';
import { runStoreConformance } from './conformance/index.ts';
import { MemoryStore } from './memory.ts';
import { StoreError } from './types.ts';

// Two MemoryStores share nothing, so the replica section does not apply.
runStoreConformance('memory', async () => new MemoryStore(), { shared: false });

describe('MemoryStore specifics', () => {
  it('refuses calls after close with an unavailable StoreError', async () => {
    const store = new MemoryStore();
    await store.close();
    await expect(store.model('Grant').find('x')).rejects.toMatchObject({ name: 'StoreError', code: 'unavailable' });
    await expect(store.ping()).rejects.toBeInstanceOf(StoreError);
  });

  it('rejects payloads that are not JSON objects', async () => {
    const store = new MemoryStore();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.model('Grant').upsert('g', cyclic, 60)).rejects.toMatchObject({ code: 'invalid' });
    await expect(store.model('Grant').upsert('', {}, 60)).rejects.toMatchObject({ code: 'invalid' });
    await store.close();
  });

  it('a watcher that throws does not fail the writer', async () => {
    const store = new MemoryStore();
    const stop = store.clients.watch!(() => {
      throw new Error('listener bug');
    });
    await store.clients.upsert({ id: 'c', redirectURIs: [] });
    stop();
    expect(await store.clients.get('c')).toEqual({ id: 'c', redirectURIs: [] });
    await store.close();
  });
});
