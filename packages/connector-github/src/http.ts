import { ConnectorError } from '@gatehouse/connector-kit';
import type { ConnectorErrorCode, ConnectorLogger } from '@gatehouse/connector-kit';
import { Agent, fetch } from 'undici';

/** GitHub asks every API client to send one, and to pin the REST API version. */
const USER_AGENT = 'gatehouse-connector-github';
export const GITHUB_API_VERSION = '2022-11-28';

/** Certificate problems: a wrong `rootCA` is a configuration error, not an outage. */
const TLS_TRUST_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Body text (bounded by the request timeout). */
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** For logs: the request without query or secrets, e.g. `GET /user/teams`. */
  what: string;
}

export interface GitHubHttpOptions {
  /** PEM CA certificates that replace the system trust store (GitHub Enterprise `rootCA`). */
  ca?: string;
  timeoutMs: number;
  logger: ConnectorLogger;
}

/**
 * One connection pool per connector, so `close()` releases every socket and a custom CA applies
 * only to this connector's traffic. Never follows redirects: a 302 is an answer (org membership).
 */
export class GitHubHttp {
  readonly timeoutMs: number;
  readonly #agent: Agent;
  readonly #logger: ConnectorLogger;

  constructor(options: GitHubHttpOptions) {
    this.timeoutMs = options.timeoutMs;
    this.#logger = options.logger;
    this.#agent = new Agent({
      connect: { timeout: options.timeoutMs, ...(options.ca !== undefined ? { ca: options.ca } : {}) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const started = Date.now();
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: { 'user-agent': USER_AGENT, ...req.headers },
        ...(req.body !== undefined ? { body: req.body } : {}),
        redirect: 'manual',
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await readBounded(res.body, req.what);
      this.#logger.debug({ request: req.what, status: res.status, ms: Date.now() - started }, 'github request');
      return { status: res.status, headers: res.headers as unknown as Headers, text };
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      throw this.#transportError(req, error, Date.now() - started);
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  #transportError(req: HttpRequest, error: unknown, ms: number): ConnectorError {
    const name = error instanceof Error ? error.name : '';
    const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    const code = typeof cause?.code === 'string' ? cause.code : undefined;
    if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      this.#logger.warn({ request: req.what, ms }, 'github request timed out');
      return new ConnectorError('upstream_unavailable', `GitHub did not answer ${req.what} within ${this.timeoutMs} ms`, {
        userMessage: 'GitHub did not answer in time. Please try again.',
        cause: error,
      });
    }
    if (code !== undefined && TLS_TRUST_ERRORS.has(code)) {
      this.#logger.error({ request: req.what, tlsError: code }, 'github TLS certificate not trusted');
      return new ConnectorError('upstream_error', `TLS certificate of ${new URL(req.url).host} not trusted (${code}); check rootCA`, {
        userMessage: 'The connection to GitHub could not be verified. Please tell your administrator.',
        cause: error,
      });
    }
    this.#logger.warn({ request: req.what, error: code ?? name }, 'github request failed');
    return new ConnectorError('upstream_unavailable', `could not reach GitHub for ${req.what}: ${code ?? (error instanceof Error ? error.message : String(error))}`, {
      userMessage: 'GitHub could not be reached. Please try again.',
      cause: error,
    });
  }
}

/** Largest answer accepted (10 000 teams are well under 1 MiB per 100-entry page). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

async function readBounded(body: ReadableStream<Uint8Array> | null, what: string): Promise<string> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      // Leaving the loop cancels the stream.
      throw new ConnectorError('upstream_error', `GitHub's answer to ${what} exceeds ${MAX_BODY_BYTES} bytes`, {
        userMessage: 'GitHub sent an answer that could not be understood.',
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Seconds to wait before retrying, from GitHub's rate-limit headers (at least 1). */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && /^\d+$/.test(retryAfter.trim())) return Math.max(1, Number(retryAfter));
  if (headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) return Math.max(1, Math.ceil(reset - now / 1000));
  }
  return undefined;
}

/** GitHub's `message` from an error body, shortened (it never holds tokens, but keep logs tidy). */
function githubMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message.slice(0, 200);
  } catch {
    // not JSON
  }
  return '';
}

/**
 * Turns a non-success API answer into a `ConnectorError`. `unauthorizedCode` says what a 401
 * (token revoked) means here: a failed login or a failed refresh.
 */
export function apiError(req: HttpRequest, res: HttpResponse, unauthorizedCode: ConnectorErrorCode, logger: ConnectorLogger): ConnectorError {
  const message = githubMessage(res.text);
  const detail = `GitHub answered ${req.what} with HTTP ${res.status}${message ? `: ${message}` : ''}`;
  if (res.status === 401) {
    logger.warn({ request: req.what, status: 401 }, 'github rejected the access token');
    return new ConnectorError(unauthorizedCode, detail, {
      userMessage: 'GitHub no longer accepts this sign-in (the authorization was revoked). Please sign in again.',
    });
  }
  const retryAfter = retryAfterSeconds(res.headers);
  const secondary = /secondary rate limit/i.test(message);
  if (res.status === 429 || ((res.status === 403 || res.status === 429) && (retryAfter !== undefined || secondary))) {
    const wait = retryAfter ?? 60;
    logger.warn({ request: req.what, status: res.status, retryAfter: wait }, 'github rate limit');
    return new ConnectorError('upstream_unavailable', `${detail} (rate limited, retry after ${wait}s)`, {
      userMessage: `GitHub is limiting requests right now. Please try again in ${wait < 120 ? `${wait} seconds` : `${Math.ceil(wait / 60)} minutes`}.`,
      retryAfter: wait,
    });
  }
  if (res.status >= 500) {
    logger.warn({ request: req.what, status: res.status }, 'github server error');
    return new ConnectorError('upstream_unavailable', detail, { userMessage: 'GitHub is having problems right now. Please try again.' });
  }
  logger.warn({ request: req.what, status: res.status }, 'github request refused');
  return new ConnectorError('upstream_error', detail, { userMessage: `GitHub refused a request (HTTP ${res.status}). Please tell your administrator.` });
}
