import { describe, expect, it } from 'vitest';
import { decodeSubject, encodeSubject } from './subject.ts';

describe('subject encoding (Dex-compatible)', () => {
  it('matches the sub Dex issues for its example static password user', () => {
    // Dex's examples: admin@example.com, userID 08a8684b-…, password DB connector "local".
    expect(encodeSubject('08a8684b-db88-4b73-90a9-3cd1661f5466', 'local')).toBe(
      'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs',
    );
  });

  it('round-trips, including long and non-ASCII ids', () => {
    for (const [u, c] of [
      ['1', 'github'],
      ['x'.repeat(300), 'ldap'],
      ['cn=Jöhn,ou=People,dc=example,dc=org', 'ad'],
    ] as const) {
      expect(decodeSubject(encodeSubject(u, c))).toEqual({ userId: u, connectorId: c });
    }
  });

  it('is stable and distinct per (user, connector)', () => {
    expect(encodeSubject('a', 'b')).toBe(encodeSubject('a', 'b'));
    expect(encodeSubject('a', 'b')).not.toBe(encodeSubject('b', 'a'));
  });

  it('rejects what is not one of ours', () => {
    for (const s of ['', 'not base64!', Buffer.from('hello').toString('base64url'), 'CiQw']) {
      expect(decodeSubject(s)).toBeUndefined();
    }
  });
});
