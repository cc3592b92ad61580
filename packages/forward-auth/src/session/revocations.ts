// What a sign-out revoked: the login (its session id, which every refresh keeps) and the bearer tokens it held.
// A structure of its own, not the session cache: an entry lives until nothing it revokes can still be presented
// (the login's last possible cookie expiry, the token's `exp`) and is never evicted to make room. Memory is bounded
// by `max` entries: reaching it (a million sign-outs within cookie_expire: each needs its own full login) turns the
// list into one watermark, "every login and token from before now is revoked", which forgets nothing at the cost of
// one re-login for everyone.
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';

/** Default of `revocation_max_entries`: about 36 MB (145 bytes an entry, measured on Node 24). */
export const MAX_REVOCATIONS = 250_000;

/** `t:<fingerprint>`: the revocation key of a bearer token (never the token itself: keys are shared via Redis). */
export function tokenKey(token: string): string {
  return `t:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;
}

/** The key of a login: its session id, or for cookies of older versions (no id) a fingerprint of the sealed value. */
export function loginKey(sid: string | undefined, sealedValue: string): string {
  return sid === undefined
    ? `v:${createHash('sha256').update(sealedValue).digest('base64url').slice(0, 22)}`
    : `s:${sid}`;
}

/** Until when a token must stay revoked: its `exp`, else `fallback`. */
export function tokenLifetime(token: string, fallback: number): number {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' ? exp * 1000 : fallback;
  } catch {
    return fallback;
  }
}

export class RevocationList {
  readonly #entries = new Map<string, number>();
  readonly #max: number;
  #notBefore = 0;
  #sweepAt: number;
  /** Called with each entry recorded here (not with those merged from the shared engine). */
  onAdd: ((key: string, until: number) => void) | undefined;
  onFold: ((notBefore: number) => void) | undefined;

  constructor(max = MAX_REVOCATIONS) {
    this.#max = max;
    this.#sweepAt = Math.min(max, 1024);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Logins and tokens that began before this instant (ms) are revoked; 0 until the list first folded. */
  get notBefore(): number {
    return this.#notBefore;
  }

  /** Records a revocation made here; `onAdd` passes it on to the other replicas. */
  add(key: string, until: number, now = Date.now()): void {
    if (this.merge(key, until, now)) this.onAdd?.(key, until);
  }

  /** Records a revocation (made here or at another replica); false when already known or already over. */
  merge(key: string, until: number, now = Date.now()): boolean {
    if (until <= now || (this.#entries.get(key) ?? 0) >= until) return false;
    this.#entries.set(key, until);
    if (this.#entries.size >= this.#sweepAt) this.#sweep(now);
    return true;
  }

  /** Raises the watermark (here, or from another replica): every entry before it is subsumed. */
  raiseNotBefore(at: number): boolean {
    if (at <= this.#notBefore) return false;
    this.#fold(at);
    return true;
  }

  #fold(at: number): void {
    this.#notBefore = Math.max(this.#notBefore, at);
    this.#entries.clear();
    this.#sweepAt = Math.min(this.#max, 1024);
  }

  /** Whether `key` is revoked, or `startedAt` (a login time, a token's iat; ms) is before the watermark. */
  revoked(key: string, startedAt: number, now = Date.now()): boolean {
    if (startedAt < this.#notBefore) return true;
    const until = this.#entries.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#entries.delete(key);
    return false;
  }

  /** Every live entry (for a resync towards the shared engine). */
  entries(): IterableIterator<[string, number]> {
    return this.#entries.entries();
  }

  // Amortised: a full pass only when the size doubled since the last one.
  #sweep(now: number): void {
    for (const [key, until] of this.#entries) if (until <= now) this.#entries.delete(key);
    if (this.#entries.size >= this.#max) {
      this.#fold(now);
      this.onFold?.(now);
      return;
    }
    this.#sweepAt = Math.min(this.#max, Math.max(1024, this.#entries.size * 2));
  }
}
