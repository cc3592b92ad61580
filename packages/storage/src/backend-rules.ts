/**
 * Small rules shared by every backend, so they agree on expiry, keys and payload encoding.
 * Exported as `@gatehouse/storage/backend-rules` for backends in other packages (storage-kubernetes, storage-postgres).
 */
import { createHash } from 'node:crypto';
import { StoreError, type ModelName, type ModelPayload } from './types.ts';

/** Absolute expiry in epoch milliseconds; undefined = never. `expiresIn <= 0` is already expired. */
export function expiresAtFrom(expiresIn: number | undefined, nowMs: number): number | undefined {
  if (expiresIn === undefined || expiresIn === null) return undefined;
  if (typeof expiresIn !== 'number' || Number.isNaN(expiresIn)) {
    throw new StoreError('invalid', 'expiresIn must be a number of seconds');
  }
  if (!Number.isFinite(expiresIn)) return expiresIn > 0 ? undefined : nowMs;
  return Math.floor(nowMs + expiresIn * 1000);
}

/** A record whose expiry is at or before `nowMs` is expired. */
export function isExpired(expiresAt: number | undefined | null, nowMs: number): boolean {
  return expiresAt !== undefined && expiresAt !== null && expiresAt <= nowMs;
}

/** The secondary-index fields of a payload, when they are strings. */
export function indexFields(payload: ModelPayload): {
  grantId: string | undefined;
  uid: string | undefined;
  userCode: string | undefined;
} {
  return {
    grantId: typeof payload.grantId === 'string' ? payload.grantId : undefined,
    uid: typeof payload.uid === 'string' ? payload.uid : undefined,
    userCode: typeof payload.userCode === 'string' ? payload.userCode : undefined,
  };
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

/** A fresh payload object, with `consumed` (epoch seconds) once the record is consumed. */
export function decodePayload(json: string, consumedAtMs: number | undefined | null): ModelPayload {
  const payload = JSON.parse(json) as ModelPayload;
  if (consumedAtMs !== undefined && consumedAtMs !== null && !payload.consumed) {
    payload.consumed = Math.floor(consumedAtMs / 1000);
  }
  return payload;
}

/** Password users are keyed by lower-cased email (as Dex does). */
export function passwordKey(email: string): string {
  return email.toLowerCase();
}

export function requireId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new StoreError('invalid', `${what} must be a non-empty string`);
  }
  return id;
}

export function closedError(type: string): StoreError {
  return new StoreError('unavailable', `${type} store is closed`);
}

/** The row key of a model id (SQL backends): SHA-256, base64url (43 characters). Ids are bearer
 * secrets (tokens, codes, session ids); a copy of the database must not hand them out. */
export function modelKey(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

/** Models that are looked up by something other than the id and so must keep `jti`. */
const KEEPS_JTI: ReadonlySet<string> = new Set<ModelName>(['Session', 'DeviceCode']);

/** The payload as stored: without `jti` when it is the (secret) id (restored by `restoredPayload`). */
export function storedPayload(model: string, id: string, payload: ModelPayload): { json: string; jtiIsId: boolean } {
  if (KEEPS_JTI.has(model) || payload.jti !== id) return { json: encodeJSON(payload, 'payload'), jtiIsId: false };
  const { jti: _jti, ...rest } = payload;
  return { json: encodeJSON(rest, 'payload'), jtiIsId: true };
}

/**
 * A stored row back to the payload oidc-provider wrote: `consumed` from the row, `jti` from the id
 * the caller gave. A row whose jti was the id cannot be returned by a lookup without the id
 * (findByUid/findByUserCode), so that gives undefined.
 */
export function restoredPayload(
  json: string,
  consumedAtMs: number | undefined | null,
  jtiIsId: boolean,
  id: string | undefined,
): ModelPayload | undefined {
  const payload = decodePayload(json, consumedAtMs);
  if (jtiIsId) {
    if (id === undefined) return undefined;
    payload.jti = id;
  }
  return payload;
}

/** A backend's store of model `name`. A name outside MODEL_NAMES (a model of a feature the issuer
 * keeps off) is a StoreError naming it, never an undefined store that fails later. */
export function modelOf<T>(models: ReadonlyMap<string, T>, name: string): T {
  const store = models.get(name);
  if (store === undefined) throw new StoreError('invalid', `unknown model ${String(name)}`);
  return store;
}
