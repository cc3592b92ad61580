/**
 * The pool and the one way statements are sent: every error becomes a StoreError (connection
 * problems, timeouts and server shutdowns `unavailable`, unique violations `conflict`, bad data
 * `invalid`), messages carry the server's text only (statements use parameters; ids are hashed
 * before they get here), and a statement that failed because its connection was dead is sent once
 * more on a fresh one, so the first request after a database restart does not fail for every
 * pooled connection in turn.
 */
import { StoreError } from '@gatehouse/storage';
import pg from 'pg';
import type { PoolSettings } from './config.ts';

export interface Logger {
  warn(obj: object, msg?: string): void;
}

/** SQLSTATE classes and node error codes that mean "the server is not there right now". */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (/^(08|53|57P)/.test(code)) return true; // connection exception, insufficient resources, operator intervention
    if (
      [
        'ECONNREFUSED',
        'ECONNRESET',
        'EPIPE',
        'ETIMEDOUT',
        'EHOSTUNREACH',
        'ENOTFOUND',
        'EAI_AGAIN',
        'ENETUNREACH',
      ].includes(code)
    )
      return true;
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(
    message,
  );
}

export function toStoreError(cause: unknown, what: string): StoreError {
  if (cause instanceof StoreError) return cause;
  const code = (cause as { code?: unknown })?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code === '23505') return new StoreError('conflict', `${what}: ${message}`, { cause });
  if (typeof code === 'string' && /^(22|42)/.test(code))
    return new StoreError('invalid', `${what}: ${message}`, { cause });
  return new StoreError('unavailable', `${what}: ${message}`, { cause });
}

/** The connection died under the statement (server restart, failover, idle kill): worth one resend.
 * Not a timeout: a server that does not answer would only be waited on twice. */
function isDeadConnection(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (code === '57P01' || code === '57P02' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  return /Connection terminated unexpectedly|Client has encountered a connection error/i.test(
    err instanceof Error ? err.message : '',
  );
}

export type Row = Record<string, unknown>;

export class Db {
  readonly pool: pg.Pool;
  readonly #maxIdle: number;
  readonly #target: string;
  readonly #listening = new WeakSet<pg.PoolClient>();
  #closed = false;

  constructor(settings: PoolSettings, logger: Logger) {
    this.pool = new pg.Pool(settings.pool);
    this.#maxIdle = settings.maxIdle;
    this.#target = settings.target;
    // An idle connection the server closed (restart, failover) is reported here; without a listener
    // it would crash the process. The pool drops it; the next statement connects afresh.
    this.pool.on('error', (err) => {
      logger.warn({ err: err.message, target: this.#target }, 'postgres: an idle connection failed');
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs one statement (a transaction when `fn` is given) and maps every failure to a StoreError. */
  async query(what: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    return this.withClient(what, (client) => client.query<Row>(sql, params));
  }

  /** `fn` inside BEGIN … COMMIT on one connection (ROLLBACK on error). */
  async transaction<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(what, async (client) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** `fn` with one pooled connection; errors mapped, a dead connection's statement resent once. */
  async withClient<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreError('unavailable', 'postgres store is closed');
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw toStoreError(err, `${what} (connecting to ${this.#target})`);
      }
      // pg-pool listens for errors only while a connection is idle; one that fails while checked
      // out between statements (a server shutdown) would otherwise emit an unhandled 'error'. The
      // statement running on it fails with that error anyway.
      if (!this.#listening.has(client)) {
        this.#listening.add(client);
        client.on('error', () => undefined);
      }
      try {
        const result = await fn(client);
        // More idle connections than Dex's maxIdleConns: this one is closed rather than kept.
        client.release(this.pool.idleCount >= this.#maxIdle ? true : undefined);
        return result;
      } catch (err) {
        // Never reuse a connection a statement failed on mid-way (it may still be busy or broken).
        client.release(isConnectionError(err) ? (err as Error) : undefined);
        // Safe to resend once: a write whose reply was lost is idempotent (upsert, delete) or
        // conditional (consume, key CAS), which then reports false: never a second winner.
        if (attempt === 0 && isDeadConnection(err) && !this.#closed) continue;
        throw toStoreError(err, what);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

export const asNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
