import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets (a callback's `state`, an id_token `nonce`) in a time that does not depend
 * on where they differ. Only whether the lengths differ may show: states, nonces and verifiers
 * have a fixed, public length, and an attacker learns nothing from it.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
