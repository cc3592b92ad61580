import { describe, expect, it } from 'vitest';
import { LRU } from './lru.ts';

describe('LRU', () => {
  it('is bounded and evicts the least recently used', () => {
    const l = new LRU<string, number>(4);
    for (const k of ['a', 'b', 'c', 'd']) l.set(k, k.charCodeAt(0));
    for (let i = 0; i < 3; i++) l.set(`x${i}`, i); // a, b, c go
    expect(l.size).toBe(4);
    expect(l.get('a')).toBeUndefined();
    expect(l.get('d')).toBe(100);
    l.get('d'); // d is refreshed: the next insertions evict x0, x1 first
    l.set('y', 1);
    l.set('z', 2);
    expect(l.get('d')).toBe(100);
    expect(l.get('x0')).toBeUndefined();
  });

  it('keeps nothing with size 0, and deletes', () => {
    const l = new LRU<string, number>(0);
    l.set('a', 1);
    expect(l.get('a')).toBeUndefined();
    const m = new LRU<string, number>(2);
    m.set('a', 1);
    m.delete('a');
    expect(m.get('a')).toBeUndefined();
  });
});
