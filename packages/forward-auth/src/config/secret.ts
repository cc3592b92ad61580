import { hkdfSync } from 'node:crypto';

export const SECRET_SIZES = [16, 24, 32] as const;

/**
 * The bytes of a cookie secret, as oauth2-proxy reads them: base64url (or standard base64) decoding when it
 * yields 16, 24 or 32 bytes, otherwise the raw string when that is 16, 24 or 32 bytes long. Undefined otherwise.
 */
export function cookieSecretBytes(secret: string): Buffer | undefined {
  const trimmed = secret.trim().replace(/=+$/, '');
  if (/^[A-Za-z0-9_-]+$/.test(trimmed) || /^[A-Za-z0-9+/]+$/.test(trimmed)) {
    const decoded = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
    if ((SECRET_SIZES as readonly number[]).includes(decoded.length)) return decoded;
  }
  const raw = Buffer.from(secret, 'utf8');
  if ((SECRET_SIZES as readonly number[]).includes(raw.length)) return raw;
  return undefined;
}

/**
 * A 256-bit key for one purpose. Every secret, whatever its size (16, 24 or 32 bytes), goes through HKDF-SHA256
 * with a purpose label, so AES-256 is always used and the session and CSRF keys are distinct.
 */
export function deriveKey(secret: Buffer, purpose: 'session' | 'csrf' | 'signout'): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `gatehouse forward-auth ${purpose} v1`, 32));
}
