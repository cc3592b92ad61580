/**
 * Structured logging (pino). Secrets never reach the output: values under secret-bearing keys
 * (any depth, any case, `-`/`_` ignored) are replaced, sensitive query parameters inside logged
 * URLs are masked, and `Bearer`/`Basic` credentials in strings (including messages) are cut.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import type { LoggerConfig } from './config/types.ts';

export type Logger = PinoLogger;

export const REDACTED = '[Redacted]';

/** Keys whose values are secrets, normalised (lower case, no `-`/`_`). */
const SECRET_KEYS = new Set(
  [
    'password',
    'passwd',
    'secret',
    'client_secret',
    'clientSecret',
    'code',
    'code_verifier',
    'token',
    'access_token',
    'accessToken',
    'refresh_token',
    'refreshToken',
    'id_token',
    'idToken',
    'id_token_hint',
    'assertion',
    'client_assertion',
    'subject_token',
    'device_code',
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'bindPW',
    'hash',
    'privateKey',
    'private_key',
    'signingKeys',
    'cookieSecret',
    'cookie_secret',
    'x-auth-request-access-token',
    'connectorData',
    'keep',
    'kept',
  ].map(normaliseKey),
);

/** Key fragments that mark a secret wherever they appear (`oauth2ClientSecret`, `azurePassword`). */
const SECRET_FRAGMENTS = ['password', 'secret', 'token', 'privatekey', 'credential'];

function normaliseKey(key: string): string {
  return key.toLowerCase().replaceAll('-', '').replaceAll('_', '');
}

export function isSecretKey(key: string): boolean {
  const k = normaliseKey(key);
  return SECRET_KEYS.has(k) || SECRET_FRAGMENTS.some((f) => k.includes(f));
}

const SENSITIVE_PARAMS =
  /([?&#](?:code|state|password|client_secret|access_token|refresh_token|id_token|id_token_hint|token|code_verifier|device_code|assertion|client_assertion|subject_token)=)[^&#\s"']*/gi;
const AUTH_SCHEMES = /\b(Bearer|Basic|Negotiate|DPoP)\s+[A-Za-z0-9._~+/=-]+/g;

/** Masks credentials that can hide inside free text (URLs with codes, Authorization values). */
export function scrubString(s: string): string {
  return s.replace(SENSITIVE_PARAMS, `$1${REDACTED}`).replace(AUTH_SCHEMES, `$1 ${REDACTED}`);
}

/** A redacted deep copy of `value`. */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12) return '[Depth]';
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; cause?: unknown };
    const out: Record<string, unknown> = { type: e.name, message: scrubString(e.message) };
    if (e.stack !== undefined) out['stack'] = scrubString(e.stack);
    if (e.code !== undefined) out['code'] = redact(e.code, depth + 1, seen);
    if (e.cause !== undefined) out['cause'] = redact(e.cause, depth + 1, seen);
    for (const [k, v] of Object.entries(e)) {
      if (!(k in out)) out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1, seen);
    }
    return out;
  }
  if (value instanceof URL) return scrubString(value.href);
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Map) {
    return redact(Object.fromEntries(value), depth + 1, seen);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** `logger.format: text`: one human-readable line per record (`12:00:00.123 INFO msg key=value`). */
export function textStream(out: NodeJS.WritableStream = process.stderr): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        out.write(`${formatLine(line)}\n`);
        nl = pending.indexOf('\n');
      }
      done();
    },
  });
}

function formatLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, pid: _pid, hostname: _hostname, ...rest } = rec;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const l = typeof level === 'number' ? (LEVEL_NAMES[level] ?? String(level)) : String(level);
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${formatValue(v)}`);
  return [t, l.padEnd(5), typeof msg === 'string' ? msg : '', ...fields].filter((s) => s !== '').join(' ');
}

/**
 * The issuer's logger. `destination` defaults to stdout (json) or stderr-formatted text; tests
 * pass their own stream.
 */
export function createLogger(config: LoggerConfig, destination?: DestinationStream | NodeJS.WritableStream): Logger {
  const dest =
    config.format === 'text'
      ? textStream((destination as NodeJS.WritableStream | undefined) ?? process.stdout)
      : (destination ?? process.stdout);
  const logger = pino(
    {
      level: config.level,
      // `redact` already shaped errors (formatters.log runs first); keep pino from re-wrapping them.
      serializers: { err: (e: unknown) => e },
      messageKey: 'msg',
      formatters: {
        log: (obj) => redact(obj) as Record<string, unknown>,
        bindings: (bindings) => redact(bindings) as Record<string, unknown>,
      },
      hooks: {
        // Messages are free text: scrub them too (a URL with ?code=... in an error message).
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubString(a) : a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
    },
    dest as DestinationStream,
  );
  return withRedactedChildren(logger);
}

/** pino does not run child bindings through `formatters`: redact them on the way in. */
function withRedactedChildren(logger: Logger): Logger {
  const child = logger.child.bind(logger);
  logger.child = ((bindings: Record<string, unknown>, options?: object) =>
    withRedactedChildren(child(redact(bindings) as Record<string, unknown>, options))) as unknown as Logger['child'];
  return logger;
}
