/**
 * Dex's `storage: {type: postgres, config: {...}}` keys (storage/sql/config.go: NetworkDB + SSL) and
 * what they become for pg's Pool. Dex's defaults are kept: port 5432, `ssl.mode` verify-full when
 * unset (the strictest), maxOpenConns 5, maxIdleConns 5, connMaxLifetime unlimited. Two differences,
 * both so that nothing hangs: connectionTimeout 0 (Dex: wait forever) means 10 s here, and every
 * statement has a client-side timeout (`statementTimeoutMs`, 10 s).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { StoreError, type PostgresStorageConfig } from '@gatehouse/storage';
import type pg from 'pg';

/** Dex's postgres SSL modes (lib/pq's). */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The `storage.config` section for `type: postgres` (Dex's keys; seconds for the durations). */
export type PostgresStoreConfig = PostgresStorageConfig;
export type PostgresSslConfig = NonNullable<PostgresStorageConfig['ssl']>;

export interface PoolSettings {
  pool: pg.PoolConfig;
  /** Idle connections kept; more are closed when released (Dex's SetMaxIdleConns). */
  maxIdle: number;
  /** Where the server is, for messages (never the password). */
  target: string;
}

const DEFAULT_CONNECT_TIMEOUT_S = 10;

function problem(path: string, message: string): string {
  return `storage.config.${path}: ${message}`;
}

function readPem(path: string, key: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(
      problem(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`),
    );
    return undefined;
  }
}

function nonNegativeInt(value: unknown, key: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    problems.push(problem(key, 'must be a whole number, 0 or more'));
    return undefined;
  }
  return value;
}

/** Dex accepts `host: db.example.com:5433` (kept for compatibility) as well as `host` + `port`. */
function splitHost(host: string, port: number | undefined): { host: string; port: number | undefined } {
  if (host.startsWith('/')) return { host, port }; // a Unix socket directory
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(host);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2]) };
  const colon = host.lastIndexOf(':');
  if (colon > 0 && isIP(host) !== 6 && /^\d+$/.test(host.slice(colon + 1))) {
    return { host: host.slice(0, colon), port: Number(host.slice(colon + 1)) };
  }
  return { host, port };
}

/** The TLS options of an `ssl.mode` (lib/pq's meaning, as Dex uses it), or false for `disable`. */
function tlsOptions(ssl: PostgresSslConfig, host: string, problems: string[]): ConnectionOptions | false {
  const mode = ssl.mode ?? 'verify-full';
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    problems.push(problem('ssl.mode', `must be one of ${SSL_MODES.join(', ')} (got ${JSON.stringify(mode)})`));
    return false;
  }
  if (mode === 'disable') return false;
  // A Unix socket has no TLS (the server refuses it there); libpq, and so Dex, ignore sslmode for one.
  if (host.startsWith('/')) return false;
  const options: ConnectionOptions = {};
  if (ssl.caFile) {
    const ca = readPem(ssl.caFile, 'ssl.caFile', problems);
    if (ca !== undefined) options.ca = ca;
  }
  if ((ssl.certFile === undefined) !== (ssl.keyFile === undefined)) {
    problems.push(
      problem(
        ssl.certFile === undefined ? 'ssl.certFile' : 'ssl.keyFile',
        'ssl.certFile and ssl.keyFile go together (a client certificate and its key)',
      ),
    );
  } else if (ssl.certFile && ssl.keyFile) {
    const cert = readPem(ssl.certFile, 'ssl.certFile', problems);
    const key = readPem(ssl.keyFile, 'ssl.keyFile', problems);
    if (cert !== undefined) options.cert = cert;
    if (key !== undefined) options.key = key;
  }
  // lib/pq: `require` with a root CA file behaves as verify-ca; without one, the certificate is not checked.
  const effective = mode === 'require' && ssl.caFile ? 'verify-ca' : mode;
  if (effective === 'require') {
    options.rejectUnauthorized = false;
  } else {
    options.rejectUnauthorized = true;
    if (effective === 'verify-ca')
      options.checkServerIdentity = () => undefined; // the chain, not the name
    else if (!host.startsWith('/') && isIP(host) === 0) options.servername = host;
  }
  return options;
}

/** Dex's keys → pg's Pool options. Throws StoreError('invalid') listing every problem (key paths). */
export function poolSettings(config: PostgresStoreConfig, options: { statementTimeoutMs?: number } = {}): PoolSettings {
  const problems: string[] = [];
  const c = config ?? {};
  const str = (key: keyof PostgresStoreConfig): string | undefined => {
    const v = c[key];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push(problem(key, 'must be a string'));
      return undefined;
    }
    return v;
  };
  let port = c.port;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    problems.push(problem('port', 'must be a port number (1-65535)'));
    port = undefined;
  }
  const split = splitHost(str('host') ?? 'localhost', port);
  const connectTimeout =
    nonNegativeInt(c.connectionTimeout, 'connectionTimeout', problems) || DEFAULT_CONNECT_TIMEOUT_S;
  const maxOpen = nonNegativeInt(c.maxOpenConns, 'maxOpenConns', problems) || 5;
  const maxIdle = nonNegativeInt(c.maxIdleConns, 'maxIdleConns', problems) || 5;
  const lifetime = nonNegativeInt(c.connMaxLifetime, 'connMaxLifetime', problems) ?? 0;
  const user = str('user');
  const password = str('password');
  const database = str('database');
  if (c.ssl !== undefined && (c.ssl === null || typeof c.ssl !== 'object'))
    problems.push(problem('ssl', 'must be a mapping (mode, caFile, certFile, keyFile)'));
  const ssl = tlsOptions(typeof c.ssl === 'object' && c.ssl !== null ? c.ssl : {}, split.host, problems);
  if (problems.length > 0) throw new StoreError('invalid', problems.join('; '));
  const statementTimeoutMs = options.statementTimeoutMs ?? 10_000;
  const pool: pg.PoolConfig = {
    host: split.host,
    port: split.port ?? 5432,
    ...(user === undefined ? {} : { user }),
    ...(password === undefined ? {} : { password }),
    ...(database === undefined ? {} : { database }),
    ssl,
    max: maxOpen,
    connectionTimeoutMillis: connectTimeout * 1000,
    maxLifetimeSeconds: lifetime,
    idleTimeoutMillis: 30_000,
    query_timeout: statementTimeoutMs,
    // The server stops a statement too, so a timed-out one does not keep running there.
    statement_timeout: statementTimeoutMs,
    keepAlive: true,
    application_name: 'gatehouse',
  };
  return {
    pool,
    maxIdle: Math.min(maxIdle, maxOpen),
    target: `${split.host}:${split.port ?? 5432}/${database ?? user ?? ''}`,
  };
}
