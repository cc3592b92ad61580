/**
 * Object names and label values from ids: SHA-256, hex. Bounded (40 chars for names and labels),
 * DNS-1123 safe whatever the id looks like, and not reversible (ids of tokens are bearer secrets).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The object name for an id: 160 bits of its SHA-256. The full hash is re-checked on read. */
export function nameFor(id: string): string {
  return sha256Hex(id).slice(0, 40);
}

/** A label value (≤ 63 chars, DNS-safe) that stands for `value`. */
export function labelFor(value: string): string {
  return sha256Hex(value).slice(0, 40);
}

/** Constant-time equality of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** UTC yyyymmdd of an epoch-ms instant. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
}
