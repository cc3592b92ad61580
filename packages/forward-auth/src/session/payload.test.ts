import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeSession, packSession, unpackSession, type Session } from './payload.ts';

const base: Session = { user: 'u', groups: [], createdAt: 1_000_000, expiresAt: 2_000_000 };

describe('session payload', () => {
  it('deflates a compressible session and reads it back; plain JSON is still read', () => {
    const big: Session = { ...base, groups: Array.from({ length: 300 }, (_, i) => `team-${i}`), email: 'a@b.c' };
    const packed = packSession(big);
    expect(packed[0]).toBe(0x01);
    expect(packed.length).toBeLessThan(encodeSession(big).length / 3);
    expect(unpackSession(packed)).toEqual(big);
    // Plain JSON (what earlier versions sealed) is still read.
    expect(unpackSession(encodeSession(big))).toEqual(big);
    const random: Session = { ...base, user: randomBytes(24).toString('base64url') };
    expect(unpackSession(packSession(random))).toEqual(random);
  });

  it('bad deflate data or an oversized inflation is no session, never a throw', () => {
    expect(unpackSession(Buffer.from([0x01, 0xff, 0x00, 0x12]))).toBeUndefined();
    const bomb = Buffer.concat([Buffer.of(0x01), deflateRawSync(Buffer.alloc(1024 * 1024, 0x20))]);
    expect(unpackSession(bomb)).toBeUndefined();
    expect(unpackSession(Buffer.of(0x01))).toBeUndefined();
  });
});
