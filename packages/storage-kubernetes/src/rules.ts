/**
 * The shared Store rules (expiry, consumed, ids, JSON) as @gatehouse/storage's backends apply
 * them (its records.ts is not exported), so every backend agrees.
 */
import { StoreError, type ModelPayload } from '@gatehouse/storage';

/** Absolute expiry in epoch milliseconds; undefined = never. `expiresIn <= 0` is already expired. */
export function expiresAtFrom(expiresIn: number | undefined, nowMs: number): number | undefined {
  if (expiresIn === undefined || expiresIn === null) return undefined;
  if (typeof expiresIn !== 'number' || Number.isNaN(expiresIn)) {
    throw new StoreError('invalid', 'expiresIn must be a number of seconds');
  }
  if (!Number.isFinite(expiresIn)) return expiresIn > 0 ? undefined : nowMs;
  return Math.floor(nowMs + expiresIn * 1000);
}

/** When a payload arrives already consumed, the record starts consumed (epoch ms). */
export function consumedAtFrom(payload: ModelPayload, nowMs: number): number | undefined {
  if (!payload.consumed) return undefined;
  return typeof payload.consumed === 'number' && payload.consumed > 0 ? payload.consumed * 1000 : nowMs;
}

/** JSON text of a payload or record; refuses what JSON cannot carry. */
export function encodeJSON(value: unknown, what: string): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StoreError('invalid', `${what} must be a JSON object`);
  }
  try {
    return JSON.stringify(value);
  } catch (cause) {
    throw new StoreError('invalid', `${what} is not JSON-serialisable`, { cause });
  }
}

export function requireId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new StoreError('invalid', `${what} must be a non-empty string`);
  }
  return id;
}

/** Password users are keyed by lower-cased email (as Dex does). */
export function passwordKey(email: string): string {
  return email.toLowerCase();
}
