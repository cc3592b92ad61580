import { describe, expect, it } from 'vitest';
import { runStoreConformance } from './conformance/index.ts';
import { ForwardingModelStore, ForwardingStore } from './forwarding.ts';
import { MemoryStore } from './memory.ts';
import type { ModelName, ModelPayload, ModelStore } from './types.ts';

/** A decorator that changes nothing: every model is a bare ForwardingModelStore. */
class PassThroughStore extends ForwardingStore {
  override model(name: ModelName): ModelStore {
    return new ForwardingModelStore(this.inner.model(name));
  }
}

// A decorator built on the forwarding bases is a Store like any other.
runStoreConformance('forwarding over memory', async () => new PassThroughStore(new MemoryStore()), {
  shared: false,
  gcRecords: 200,
});

describe('ForwardingModelStore', () => {
  it('hands each call, with its arguments, to the inner model and returns its result', async () => {
    const calls: unknown[][] = [];
    const record: ModelPayload = { jti: 'x', uid: 'u', userCode: 'C' };
    const inner: ModelStore = {
      upsert: async (...args) => void calls.push(['upsert', ...args]),
      find: async (...args) => (calls.push(['find', ...args]), record),
      findByUid: async (...args) => (calls.push(['findByUid', ...args]), record),
      findByUserCode: async (...args) => (calls.push(['findByUserCode', ...args]), record),
      consume: async (...args) => (calls.push(['consume', ...args]), true),
      destroy: async (...args) => void calls.push(['destroy', ...args]),
      revokeByGrantId: async (...args) => void calls.push(['revokeByGrantId', ...args]),
    };
    const m = new ForwardingModelStore(inner);
    await m.upsert('x', record, 60);
    expect(await m.find('x')).toBe(record);
    expect(await m.findByUid('u')).toBe(record);
    expect(await m.findByUserCode('C')).toBe(record);
    expect(await m.consume('x')).toBe(true);
    await m.destroy('x');
    await m.revokeByGrantId('g');
    expect(calls).toEqual([
      ['upsert', 'x', record, 60],
      ['find', 'x'],
      ['findByUid', 'u'],
      ['findByUserCode', 'C'],
      ['consume', 'x'],
      ['destroy', 'x'],
      ['revokeByGrantId', 'g'],
    ]);
  });

  it('a subclass overrides one call and keeps the rest', async () => {
    class Shouting extends ForwardingModelStore {
      override async find(id: string): Promise<ModelPayload | undefined> {
        const found = await this.inner.find(id);
        return found && { ...found, loud: true };
      }
    }
    const store = new MemoryStore();
    const m = new Shouting(store.model('Session'));
    await m.upsert('s', { jti: 's', uid: 'u1' }, 60);
    expect(await m.find('s')).toEqual({ jti: 's', uid: 'u1', loud: true });
    expect(await m.findByUid('u1')).toEqual({ jti: 's', uid: 'u1' });
  });

  it('an unknown model stays a StoreError naming it through the forwarding store', () => {
    const store = new PassThroughStore(new MemoryStore());
    expect(() => store.model('NoSuchModel' as ModelName)).toThrow(
      expect.objectContaining({ name: 'StoreError', code: 'invalid', message: 'unknown model NoSuchModel' }),
    );
  });
});
