/**
 * Brute-force protection for the password form and the password grant: failed attempts are
 * counted in a sliding window per client address, per (username, address) and per username.
 * Past a limit the form answers 429 with how long to wait (the grant: invalid_grant).
 *
 * Why three keys: a per-username limit alone lets anyone lock a known user out by failing on
 * purpose. The tight limit is therefore per (username, address); the per-username limit is a
 * higher ceiling that only a guessing campaign spread over many addresses reaches (it still caps
 * distributed guessing, at the price of locking the user out while such a campaign runs).
 * Held in memory per replica: with N replicas an attacker gets at most N times the budget, which
 * still caps guessing; a shared limiter would need the Store.
 */
export interface ThrottleOptions {
  /** Window length, ms. */
  windowMs: number;
  /** Failures allowed per (username, client address) within the window. */
  maxPerUser: number;
  /** Failures allowed per username from all addresses within the window (the ceiling). */
  maxPerUserTotal: number;
  /** Failures allowed per client address within the window. */
  maxPerAddress: number;
  now?: () => number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { windowMs: 15 * 60_000, maxPerUser: 5, maxPerUserTotal: 50, maxPerAddress: 30 };

const MAX_KEYS = 100_000;

export class LoginThrottle {
  readonly #o: ThrottleOptions;
  readonly #failures = new Map<string, number[]>();

  constructor(options: Partial<ThrottleOptions> = {}) {
    this.#o = { ...DEFAULT_THROTTLE, ...options };
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  #recent(key: string): number[] {
    const cutoff = this.#now() - this.#o.windowMs;
    const list = (this.#failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, list);
    return list;
  }

  #keys(connectorId: string, username: string, address: string): Array<[string, number]> {
    const user = `${connectorId}:${username.trim().toLowerCase()}`;
    return [
      [`ua:${address}:${user}`, this.#o.maxPerUser],
      [`u:${user}`, this.#o.maxPerUserTotal],
      [`a:${address}`, this.#o.maxPerAddress],
    ];
  }

  /** Milliseconds until another attempt is allowed, or 0 when allowed now. */
  retryAfter(connectorId: string, username: string, address: string): number {
    let wait = 0;
    for (const [key, max] of this.#keys(connectorId, username, address)) {
      const list = this.#recent(key);
      if (list.length >= max) {
        const oldest = list[list.length - max] ?? this.#now();
        wait = Math.max(wait, oldest + this.#o.windowMs - this.#now());
      }
    }
    return wait;
  }

  recordFailure(connectorId: string, username: string, address: string): void {
    if (this.#failures.size > MAX_KEYS) this.#sweep();
    for (const [key] of this.#keys(connectorId, username, address)) {
      const list = this.#recent(key);
      list.push(this.#now());
      this.#failures.set(key, list);
    }
  }

  /** A successful login clears the username's failures (not the address's). */
  recordSuccess(connectorId: string, username: string, address: string): void {
    const user = `${connectorId}:${username.trim().toLowerCase()}`;
    this.#failures.delete(`ua:${address}:${user}`);
    this.#failures.delete(`u:${user}`);
  }

  #sweep(): void {
    for (const key of [...this.#failures.keys()]) this.#recent(key);
  }
}
