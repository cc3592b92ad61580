/**
 * Clients and connectors changed at run time reach every replica through LISTEN/NOTIFY: a trigger
 * (schema.ts) announces the table on `gatehouse_records` after every statement that changes it, by
 * whichever writer; each store keeps one dedicated connection LISTENing and, on a notice, re-reads
 * that table and turns the difference with what it last saw into ChangeEvents. Re-reading rather
 * than trusting the notice's contents makes a missed notice harmless: after the listening
 * connection is lost (server restart, failover) it reconnects with backoff and re-reads every
 * watched table, so changes made meanwhile arrive too. A heartbeat on that connection notices a
 * connection that died silently. Nothing here ever throws into the issuer.
 */
import type { ChangeEvent } from '@gatehouse/storage';
import pg from 'pg';
import type { Db, Logger } from './db.ts';
import { CHANGES_CHANNEL } from './schema.ts';

export interface ListenerOptions {
  /** Heartbeat on the listening connection (default 15 s). */
  heartbeatMs?: number;
  /** Longest wait between reconnection attempts (default 10 s). */
  maxBackoffMs?: number;
}

/** One table's view: the records last seen by key (as JSON, to spot changes), and its subscribers. */
class TableWatch<T> {
  readonly #db: Db;
  readonly #table: string;
  readonly #keyColumn: string;
  readonly #logger: Logger;
  readonly listeners = new Set<(event: ChangeEvent<T>) => void>();
  #seen: Map<string, string> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(db: Db, table: string, keyColumn: string, logger: Logger) {
    this.#db = db;
    this.#table = table;
    this.#keyColumn = keyColumn;
    this.#logger = logger;
  }

  /** Re-reads the table (coalescing notices that arrive while a read is running). */
  resync(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#readOnce();
      } while (this.#again && !this.#db.closed);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #readOnce(): Promise<void> {
    let rows: Array<{ key: string; record: string }>;
    try {
      const result = await this.#db.query(
        `${this.#table}.watch`,
        `SELECT ${this.#keyColumn} AS key, record FROM ${this.#table}`,
      );
      rows = result.rows as Array<{ key: string; record: string }>;
    } catch (err) {
      if (this.#db.closed) return;
      this.#logger.warn(
        { table: this.#table, err: (err as Error).message },
        'postgres watch: re-reading failed; retrying',
      );
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => void this.resync(), 1000);
      this.#retry.unref();
      return;
    }
    const previous = this.#seen ?? new Map<string, string>();
    const next = new Map(rows.map((r) => [r.key, r.record]));
    this.#seen = next;
    for (const [key, json] of next) {
      if (previous.get(key) === json) continue;
      let record: T;
      try {
        record = JSON.parse(json) as T;
      } catch {
        this.#logger.warn({ table: this.#table }, 'postgres watch: a record is not JSON; ignored');
        continue;
      }
      this.#emit({ type: 'upsert', record });
    }
    for (const key of previous.keys()) if (!next.has(key)) this.#emit({ type: 'delete', id: key });
  }

  #emit(event: ChangeEvent<T>): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#logger.warn({ table: this.#table, err: (err as Error).message }, 'postgres watch: a subscriber failed');
      }
    }
  }

  stop(): void {
    clearTimeout(this.#retry);
  }
}

export class ChangeListener {
  readonly #db: Db;
  readonly #clientConfig: pg.ClientConfig;
  readonly #logger: Logger;
  readonly #heartbeatMs: number;
  readonly #maxBackoffMs: number;
  readonly #tables = new Map<string, TableWatch<unknown>>();
  #client: pg.Client | undefined;
  #started = false;
  #stopped = false;
  #backoffMs = 250;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(db: Db, clientConfig: pg.ClientConfig, logger: Logger, options: ListenerOptions = {}) {
    this.#db = db;
    this.#clientConfig = clientConfig;
    this.#logger = logger;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  /** Subscribes to one table's changes; the first subscription opens the listening connection. */
  watch<T>(table: string, keyColumn: string, onChange: (event: ChangeEvent<T>) => void): () => void {
    let watch = this.#tables.get(table) as TableWatch<T> | undefined;
    if (!watch) {
      watch = new TableWatch<T>(this.#db, table, keyColumn, this.#logger);
      this.#tables.set(table, watch as TableWatch<unknown>);
    }
    watch.listeners.add(onChange);
    if (!this.#started) {
      this.#started = true;
      void this.#connect();
    } else if (this.#client) {
      void watch.resync(); // already listening: the new table's current records
    }
    const w = watch;
    return () => {
      w.listeners.delete(onChange);
    };
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client(this.#clientConfig);
    let failed = false;
    const lost = (why: string): void => {
      if (failed) return;
      failed = true;
      if (this.#client === client) this.#client = undefined;
      clearInterval(this.#heartbeat);
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.#stopped) return;
      this.#logger.warn(
        { err: why, retryInMs: this.#backoffMs },
        'postgres watch: listening connection lost; reconnecting',
      );
      this.#timer = setTimeout(() => void this.#connect(), this.#backoffMs);
      this.#timer.unref();
      this.#backoffMs = Math.min(this.#backoffMs * 2, this.#maxBackoffMs);
    };
    client.on('error', (err) => lost(err.message));
    client.on('end', () => lost('connection ended'));
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGES_CHANNEL || !msg.payload) return;
      void this.#tables.get(msg.payload)?.resync();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      lost((err as Error).message);
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#backoffMs = 250;
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((err: Error) => lost(`heartbeat: ${err.message}`));
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
    // Listening from here on; what changed before (or while disconnected) comes from a full read.
    await Promise.all([...this.#tables.values()].map((t) => t.resync()));
  }

  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    for (const t of this.#tables.values()) t.stop();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
