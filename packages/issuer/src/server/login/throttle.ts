/**
 * Brute-force protection for the password form, the password grant and the device flow's
 * user_code input: attempts are counted in a sliding window per key (client address, username,
 * …). Past a limit the form answers 429 with how long to wait (the grant: invalid_grant).
 *
 * An attempt is reserved before the secret is checked and the check runs only with a
 * reservation: the check-then-record order let 40 concurrent wrong passwords through a limit of
 * 5, since none was recorded until its bcrypt comparison ended. JavaScript runs `reserve`
 * without interruption, so within one replica at most `max` checks per key are ever in flight
 * or failed within the window. A success (or an upstream outage: no verdict on the password)
 * gives its reservation back.
 *
 * Why three keys for passwords: a per-username limit alone lets anyone lock a known user out by
 * failing on purpose. The tight limit is therefore per (username, address); the per-username
 * limit is a higher ceiling that only a guessing campaign spread over many addresses reaches (it
 * still caps distributed guessing, at the price of locking the user out while such a campaign
 * runs). Held in memory per replica: with N replicas an attacker gets at most N times the
 * budget, which still caps guessing; a shared limiter would need the Store.
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
  /** Wrong device-flow user_codes allowed per client address within the window. */
  maxDeviceCodesPerAddress: number;
  /** Wrong device-flow user_codes allowed from everyone within the window (RFC 8628 §5.1). */
  maxDeviceCodesTotal: number;
  now?: () => number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  windowMs: 15 * 60_000,
  maxPerUser: 5,
  maxPerUserTotal: 50,
  maxPerAddress: 30,
  maxDeviceCodesPerAddress: 10,
  maxDeviceCodesTotal: 1000,
};

/** An attempt that may go ahead: say how it ended. */
export interface Reservation {
  /** The secret was right: the reservation is given back (and `onSuccess` runs). */
  succeeded(): void;
  /** The secret was wrong: the reservation stays as a failure until it leaves the window. */
  failed(): void;
  /** No verdict (upstream unavailable): the reservation is given back. */
  abandoned(): void;
}

export type Reserved = { ok: true; attempt: Reservation } | { ok: false; retryAfterMs: number };

const MAX_KEYS = 100_000;

/** Timestamps per key in a sliding window; `reserve` checks and records in one step. */
export class SlidingWindow {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #hits = new Map<string, number[]>();
  /** The next sweep runs past this many keys: at least twice what a sweep left, so sweeping stays
   * amortised O(1) per hit even when every key is still live. */
  #sweepAt = MAX_KEYS;

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  #recent(key: string): number[] {
    const cutoff = this.#now() - this.#windowMs;
    const list = (this.#hits.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.#hits.delete(key);
    else this.#hits.set(key, list);
    return list;
  }

  /** Milliseconds until every key is under its limit again, or 0 now. */
  wait(limits: ReadonlyArray<readonly [string, number]>): number {
    let wait = 0;
    for (const [key, max] of limits) {
      const list = this.#recent(key);
      if (list.length >= max) {
        const oldest = list[list.length - max] ?? this.#now();
        wait = Math.max(wait, oldest + this.#windowMs - this.#now());
      }
    }
    return wait;
  }

  /** Records one hit on every key, unconditionally. */
  hit(keys: readonly string[]): number {
    if (this.#hits.size > this.#sweepAt) this.#sweep();
    const at = this.#now();
    for (const key of keys) {
      const list = this.#recent(key);
      list.push(at);
      this.#hits.set(key, list);
    }
    return at;
  }

  /** When every key is under its limit, one hit on each (returns its time); else the wait. */
  reserve(
    limits: ReadonlyArray<readonly [string, number]>,
  ): { ok: true; at: number } | { ok: false; retryAfterMs: number } {
    const wait = this.wait(limits);
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    return { ok: true, at: this.hit(limits.map(([key]) => key)) };
  }

  /** Removes one hit recorded at `at` from each key (a reservation given back). */
  release(keys: readonly string[], at: number): void {
    for (const key of keys) {
      const list = this.#hits.get(key);
      const i = list?.indexOf(at) ?? -1;
      if (!list || i < 0) continue;
      list.splice(i, 1);
      if (list.length === 0) this.#hits.delete(key);
    }
  }

  clear(key: string): void {
    this.#hits.delete(key);
  }

  #sweep(): void {
    for (const key of [...this.#hits.keys()]) this.#recent(key);
    this.#sweepAt = Math.max(MAX_KEYS, this.#hits.size * 2);
  }

  /** Keys held (tests). */
  get size(): number {
    return this.#hits.size;
  }
}

/** One reservation over `keys` in `window`; `onSuccess` runs after a success gave it back. */
function reservation(window: SlidingWindow, keys: string[], at: number, onSuccess: () => void = () => {}): Reservation {
  let settled = false;
  const settle = (giveBack: boolean) => {
    if (settled) return;
    settled = true;
    if (giveBack) window.release(keys, at);
  };
  return {
    succeeded: () => {
      settle(true);
      onSuccess();
    },
    failed: () => settle(false),
    abandoned: () => settle(true),
  };
}

/** The password form and the password grant share one instance (and so one budget). */
export class LoginThrottle {
  readonly #o: ThrottleOptions;
  readonly #window: SlidingWindow;

  constructor(options: Partial<ThrottleOptions> = {}) {
    this.#o = { ...DEFAULT_THROTTLE, ...options };
    this.#window = new SlidingWindow(this.#o.windowMs, () => this.#o.now?.() ?? Date.now());
  }

  #user(connectorId: string, username: string): string {
    return `${connectorId}:${username.trim().toLowerCase()}`;
  }

  #limits(connectorId: string, username: string, address: string): Array<[string, number]> {
    const user = this.#user(connectorId, username);
    return [
      [`ua:${address}:${user}`, this.#o.maxPerUser],
      [`u:${user}`, this.#o.maxPerUserTotal],
      [`a:${address}`, this.#o.maxPerAddress],
    ];
  }

  /**
   * Reserves one password check for (connector, username, address), or says how long to wait.
   * Call it before the check, and settle the reservation with the check's outcome.
   */
  reserve(connectorId: string, username: string, address: string): Reserved {
    const limits = this.#limits(connectorId, username, address);
    const r = this.#window.reserve(limits);
    if (!r.ok) return r;
    const keys = limits.map(([key]) => key);
    return {
      ok: true,
      attempt: reservation(this.#window, keys, r.at, () => this.recordSuccess(connectorId, username, address)),
    };
  }

  /** Milliseconds until another attempt is allowed, or 0 when allowed now (reserves nothing). */
  retryAfter(connectorId: string, username: string, address: string): number {
    return this.#window.wait(this.#limits(connectorId, username, address));
  }

  /** Records a failure without a reservation (e.g. one counted elsewhere). */
  recordFailure(connectorId: string, username: string, address: string): void {
    this.#window.hit(this.#limits(connectorId, username, address).map(([key]) => key));
  }

  /** A successful login clears the username's failures (not the address's). */
  recordSuccess(connectorId: string, username: string, address: string): void {
    const user = this.#user(connectorId, username);
    this.#window.clear(`ua:${address}:${user}`);
    this.#window.clear(`u:${user}`);
  }
}

/**
 * Device-flow user_code guesses (RFC 8628 §5.1): a user_code is short enough to guess, so every
 * submission reserves an attempt per client address and in a global budget; a submission that
 * finds a pending code gives it back. The global limit caps a distributed guess, at the price of
 * refusing device logins while one runs.
 */
export class DeviceCodeThrottle {
  readonly #o: ThrottleOptions;
  readonly #window: SlidingWindow;

  constructor(options: Partial<ThrottleOptions> = {}) {
    this.#o = { ...DEFAULT_THROTTLE, ...options };
    this.#window = new SlidingWindow(this.#o.windowMs, () => this.#o.now?.() ?? Date.now());
  }

  reserve(address: string): Reserved {
    const limits: Array<[string, number]> = [
      [`d:${address}`, this.#o.maxDeviceCodesPerAddress],
      ['d*', this.#o.maxDeviceCodesTotal],
    ];
    const r = this.#window.reserve(limits);
    if (!r.ok) return r;
    return {
      ok: true,
      attempt: reservation(
        this.#window,
        limits.map(([key]) => key),
        r.at,
      ),
    };
  }
}
