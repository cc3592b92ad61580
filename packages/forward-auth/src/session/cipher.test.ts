import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CookieCipher } from './cipher.ts';

const secretA = randomBytes(32).toString('base64');
const secretB = randomBytes(32).toString('base64url');

describe('CookieCipher', () => {
  it('round-trips under the cookie name', () => {
    const c = new CookieCipher([secretA], 'session');
    const sealed = c.seal(Buffer.from('hello'), '_oauth2_proxy');
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(c.open(sealed, '_oauth2_proxy')?.toString()).toBe('hello');
  });

  it('uses a fresh IV: the same plaintext seals differently', () => {
    const c = new CookieCipher([secretA], 'session');
    expect(c.seal(Buffer.from('x'), 'n')).not.toBe(c.seal(Buffer.from('x'), 'n'));
  });

  it('binds the cookie name as AAD', () => {
    const c = new CookieCipher([secretA], 'session');
    expect(c.open(c.seal(Buffer.from('x'), 'a'), 'b')).toBeUndefined();
  });

  it('rejects every single-byte tampering', () => {
    const c = new CookieCipher([secretA], 'session');
    const raw = Buffer.from(c.seal(Buffer.from('payload-to-protect'), 'n'), 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const t = Buffer.from(raw);
      t[i] = (t[i] as number) ^ 0x01;
      expect(c.open(t.toString('base64url'), 'n')).toBeUndefined();
    }
  });

  it('rejects values sealed under a foreign key, truncated or garbage', () => {
    const a = new CookieCipher([secretA], 'session');
    const b = new CookieCipher([secretB], 'session');
    const sealed = a.seal(Buffer.from('x'), 'n');
    expect(b.open(sealed, 'n')).toBeUndefined();
    expect(a.open(sealed.slice(0, -4), 'n')).toBeUndefined();
    for (const junk of ['', 'a', '!!!!!!!!!!', 'x'.repeat(100), 'AQ'.repeat(40)])
      expect(a.open(junk, 'n')).toBeUndefined();
  });

  it('rotates: the first secret seals, every secret opens', () => {
    const old = new CookieCipher([secretA], 'session');
    const rotated = new CookieCipher([secretB, secretA], 'session');
    const fromOld = old.seal(Buffer.from('old'), 'n');
    expect(rotated.open(fromOld, 'n')?.toString()).toBe('old');
    const fromNew = rotated.seal(Buffer.from('new'), 'n');
    expect(old.open(fromNew, 'n')).toBeUndefined();
    expect(new CookieCipher([secretB], 'session').open(fromNew, 'n')?.toString()).toBe('new');
  });

  it('keeps session and CSRF keys apart', () => {
    const s = new CookieCipher([secretA], 'session');
    const f = new CookieCipher([secretA], 'csrf');
    expect(f.open(s.seal(Buffer.from('x'), 'n'), 'n')).toBeUndefined();
  });

  it('accepts 16- and 24-byte secrets (HKDF to 256 bits) and refuses other sizes', () => {
    for (const size of [16, 24]) {
      const c = new CookieCipher([randomBytes(size).toString('base64')], 'session');
      expect(c.open(c.seal(Buffer.from('x'), 'n'), 'n')?.toString()).toBe('x');
    }
    expect(() => new CookieCipher([randomBytes(20).toString('base64')], 'session')).toThrow();
    expect(() => new CookieCipher([], 'session')).toThrow();
  });
});
