import { describe, expect, it } from 'vitest';
import { RevocationList, loginKey, tokenKey } from './revocations.ts';

describe('RevocationList', () => {
  it('keeps an entry until its own expiry, however many others come after', () => {
    const list = new RevocationList(100);
    const now = 1_000_000;
    list.add('s:first', now + 10_000, now);
    for (let i = 0; i < 90; i++) list.add(`s:${i}`, now + 5_000, now);
    expect(list.revoked('s:first', now, now + 9_999)).toBe(true);
    expect(list.revoked('s:first', now, now + 10_000)).toBe(false);
    expect(list.revoked('s:other', now, now)).toBe(false);
  });

  it('drops expired entries as it grows, and folds into a watermark instead of forgetting at its bound', () => {
    const list = new RevocationList(2048);
    const folds: number[] = [];
    list.onFold = (t) => folds.push(t);
    let now = 1_000_000;
    for (let i = 0; i < 1500; i++) list.add(`s:short${i}`, now + 1, now);
    now += 10;
    for (let i = 0; i < 2047; i++) list.add(`s:long${i}`, now + 60_000, now);
    expect(folds).toEqual([]);
    expect(list.size).toBeLessThan(2048 + 1024);
    list.add('s:one-too-many', now + 60_000, now);
    expect(list.size).toBeLessThanOrEqual(2048);
    for (let i = 0; i < 1000; i++) list.add(`s:more${i}`, now + 60_000, now);
    expect(folds).toHaveLength(1);
    // Everything from before the fold stays revoked; a login after it is not.
    expect(list.revoked('s:long5', now - 1, now)).toBe(true);
    expect(list.revoked('s:never-revoked-but-old', now - 1, now)).toBe(true);
    expect(list.revoked('s:new-login', (folds[0] as number) + 1, now)).toBe(false);
  });

  it('keys never contain the token or cookie itself', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    expect(tokenKey(token)).toMatch(/^t:[A-Za-z0-9_-]{22}$/);
    expect(tokenKey(token)).not.toContain('eyJ');
    expect(loginKey('abc', 'value')).toBe('s:abc');
    expect(loginKey(undefined, 'value')).toMatch(/^v:[A-Za-z0-9_-]{22}$/);
  });
});
