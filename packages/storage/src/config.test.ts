import { describe, expect, it } from 'vitest';
import { STORAGE_TYPES, storageType } from './config.ts';

describe('storageType', () => {
  it('resolves our types and the sqlite alias, nothing else', () => {
    for (const t of STORAGE_TYPES) expect(storageType(t)).toBe(t);
    expect(storageType('sqlite')).toBe('sqlite3');
    for (const t of ['etcd', 'mysql', 'SQLite3', '', 'toString', '__proto__']) expect(storageType(t)).toBeUndefined();
  });
});
