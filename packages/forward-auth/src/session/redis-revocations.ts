// session_store_type = "redis": revocations shared by every replica and kept across restarts. Sessions stay in
// their cookies; Redis holds one sorted set of revoked keys (score: until when, in ms) and the fold watermark, and
// a channel announces each new entry. Each replica mirrors the set in its RevocationList, so /oauth2/auth still
// answers from memory without a round-trip: a sign-out reaches the other replicas within a publish (milliseconds).
//
// Redis unreachable: a replica that has synced once keeps answering from its mirror (fail open for what it has not
// heard of: a sign-out at another replica during the outage is refused here once Redis is back, within one resync;
// cookie_refresh still bounds it meanwhile). Its own sign-outs are kept and written on reconnect. A replica that has
// never synced is not ready (/ready 503), so a restart during an outage does not serve with an empty list.
import { createClient } from '@redis/client';
import type { Logger } from 'pino';
import type { RevocationList } from './revocations.ts';

export interface SharedRevocations {
  /** The first full load from the shared engine has completed. */
  readonly synced: boolean;
  /** Waits up to `timeoutMs` for every revocation made here to be stored; false when some are still pending. */
  settle(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Members written per ZADD when pushing the whole mirror back (a Redis that lost its data). */
const BATCH = 1_000;

export class RedisRevocations implements SharedRevocations {
  readonly #list: RevocationList;
  readonly #log: Logger;
  readonly #key: string;
  readonly #notBeforeKey: string;
  readonly #channel: string;
  readonly #client: ReturnType<typeof createClient>;
  readonly #sub: ReturnType<typeof createClient>;
  readonly #pending = new Map<string, number>();
  #pendingNotBefore = 0;
  #synced = false;
  #up = true;
  #closed = false;
  #flushing: Promise<void> = Promise.resolve();
  readonly #logFold: RevocationList['onFold'];

  constructor(list: RevocationList, url: string, namespace: string, log: Logger) {
    this.#list = list;
    this.#log = log;
    const prefix = `gatehouse:forward-auth:${namespace}`;
    this.#key = `${prefix}:revoked`;
    this.#notBeforeKey = `${prefix}:not-before`;
    this.#channel = `${prefix}:revocations`;
    // Commands fail at once while disconnected (we keep our own queue) instead of waiting in the client's.
    this.#client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2_000, reconnectStrategy: (n: number) => Math.min(100 * 2 ** n, 2_000) },
    });
    this.#sub = this.#client.duplicate();
    for (const c of [this.#client, this.#sub]) {
      c.on('error', (err: Error) => this.#down(err));
      // Pub/sub drops what was published while a connection was down: every (re)connection reloads the set.
      c.on('ready', () => void this.#resync());
    }
    list.onAdd = (key, until) => {
      this.#pending.set(key, until);
      this.#flush();
    };
    const logFold = (this.#logFold = list.onFold);
    list.onFold = (at) => {
      logFold?.(at);
      this.#pendingNotBefore = Math.max(this.#pendingNotBefore, at);
      this.#pending.clear();
      this.#flush();
    };
    void this.#connect();
  }

  get synced(): boolean {
    return this.#synced;
  }

  async #connect(): Promise<void> {
    try {
      await this.#sub.connect();
      await this.#sub.subscribe(this.#channel, (message: string) => this.#onMessage(message));
      await this.#client.connect();
    } catch (err) {
      if (!this.#closed)
        this.#log.error({ err: (err as Error).message }, 'redis: cannot connect; revocations stay local until it can');
    }
  }

  #down(err: Error): void {
    if (this.#closed || !this.#up) return;
    this.#up = false;
    this.#log.warn(
      { err: err.message },
      'redis unreachable: answering from the revocations known so far; new sign-outs are written when it is back',
    );
  }

  #onMessage(message: string): void {
    const space = message.indexOf(' ');
    const head = message.slice(0, space);
    const rest = message.slice(space + 1);
    if (head === 'not-before') this.#raiseNotBefore(Number(rest));
    else if (/^\d+$/.test(head) && rest !== '') this.#list.merge(rest, Number(head));
  }

  /** A watermark in the future would refuse every new login until then: never past now. */
  #raiseNotBefore(at: number): void {
    if (Number.isFinite(at)) this.#list.raiseNotBefore(Math.min(at, Date.now()));
  }

  async #resync(): Promise<void> {
    if (!this.#client.isReady || !this.#sub.isReady || this.#closed) return;
    try {
      const now = Date.now();
      const [entries, notBefore] = await Promise.all([
        this.#client.zRangeByScoreWithScores(this.#key, now, '+inf'),
        this.#client.get(this.#notBeforeKey),
      ]);
      if (notBefore !== null) this.#raiseNotBefore(Number(notBefore));
      for (const e of entries) this.#list.merge(e.value, e.score, now);
      // What this replica knows and Redis lacks (written while it was down, or lost by Redis): write it back.
      const known = new Set(entries.map((e) => e.value));
      for (const [key, until] of this.#list.entries()) if (!known.has(key)) this.#pending.set(key, until);
      if (this.#list.notBefore > Number(notBefore ?? 0))
        this.#pendingNotBefore = Math.max(this.#pendingNotBefore, this.#list.notBefore);
      if (!this.#synced) this.#log.info({ revocations: this.#list.size }, 'redis: revocations loaded');
      else if (!this.#up) this.#log.info('redis reachable again: revocations resynchronised');
      this.#synced = true;
      this.#up = true;
      this.#flush();
    } catch (err) {
      this.#down(err as Error);
    }
  }

  /** Writes what is pending, one flush at a time; a failure keeps it pending for the next (re)connection. */
  #flush(): void {
    this.#flushing = this.#flushing.then(() => this.#write());
  }

  async #write(): Promise<void> {
    if (this.#closed || !this.#client.isReady) return;
    const notBefore = this.#pendingNotBefore;
    const batch = [...this.#pending];
    if (notBefore === 0 && batch.length === 0) return;
    this.#pending.clear();
    this.#pendingNotBefore = 0;
    try {
      const now = Date.now();
      if (notBefore > 0) {
        await this.#client
          .multi()
          .set(this.#notBeforeKey, String(notBefore))
          .zRemRangeByScore(this.#key, '-inf', '+inf')
          .publish(this.#channel, `not-before ${notBefore}`)
          .exec();
      }
      for (let i = 0; i < batch.length; i += BATCH) {
        const part = batch.slice(i, i + BATCH);
        const tx = this.#client.multi().zAdd(
          this.#key,
          part.map(([value, score]) => ({ score, value })),
          { GT: true },
        );
        for (const [key, until] of part) tx.publish(this.#channel, `${until} ${key}`);
        await tx.zRemRangeByScore(this.#key, '-inf', now).exec();
      }
    } catch (err) {
      for (const [key, until] of batch) if ((this.#pending.get(key) ?? 0) < until) this.#pending.set(key, until);
      this.#pendingNotBefore = Math.max(this.#pendingNotBefore, notBefore);
      this.#down(err as Error);
    }
  }

  async settle(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.#flushing, timeout]);
    clearTimeout(timer);
    return this.#pending.size === 0 && this.#pendingNotBefore === 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#list.onAdd = undefined;
    this.#list.onFold = this.#logFold;
    for (const c of [this.#sub, this.#client]) {
      try {
        if (c.isOpen) await c.close();
        else c.destroy();
      } catch {
        c.destroy();
      }
    }
  }
}
