import { describe, expect, it } from 'vitest';
import { openSuccessor, sealSuccessor } from './refresh-rotation.ts';

describe('successor link', () => {
  it('opens only with the predecessor value and never contains the successor in clear', () => {
    const sealed = sealSuccessor('rt-zero-value', 'rt-one-value');
    expect(sealed).not.toContain('rt-one-value');
    expect(openSuccessor('rt-zero-value', sealed)).toBe('rt-one-value');
    expect(openSuccessor('another-token', sealed)).toBeUndefined();
    expect(openSuccessor('rt-zero-value', `${sealed.slice(0, -2)}AA`)).toBeUndefined();
    expect(openSuccessor('rt-zero-value', 42)).toBeUndefined();
  });
});
