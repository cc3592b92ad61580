import { ConnectorError, HttpClient, parseRetryAfter } from '@gatehouse/connector-kit';
import type { ConnectorErrorCode, ConnectorLogger, HttpClientRequest, HttpResponse } from '@gatehouse/connector-kit';

export type { HttpResponse } from '@gatehouse/connector-kit';
export type HttpRequest = HttpClientRequest;

/** GitHub asks every API client to send one, and to pin the REST API version. */
const USER_AGENT = 'gatehouse-connector-github';
export const GITHUB_API_VERSION = '2022-11-28';

export interface GitHubHttpOptions {
  /** PEM CA certificates that replace the system trust store (GitHub Enterprise `rootCA`). */
  ca?: string;
  timeoutMs: number;
  logger: ConnectorLogger;
}

/**
 * The kit's bounded client (4 MiB answers, `timeoutMs` per call, redirects returned: a 302 is an
 * answer to the org-membership check), with one connection pool per connector, so `close()`
 * releases every socket and `rootCA` applies only to this connector's traffic.
 */
export class GitHubHttp extends HttpClient {
  constructor(options: GitHubHttpOptions) {
    super({
      upstream: 'GitHub',
      timeoutMs: options.timeoutMs,
      logger: options.logger,
      headers: { 'user-agent': USER_AGENT },
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
    });
  }
}

/** Seconds to wait before retrying, from GitHub's rate-limit headers (at least 1). */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = parseRetryAfter(headers.get('retry-after'), now);
  if (retryAfter !== undefined) return Math.max(1, retryAfter);
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
export function apiError(
  req: Pick<HttpRequest, 'what'>,
  res: HttpResponse,
  unauthorizedCode: ConnectorErrorCode,
  logger: ConnectorLogger,
): ConnectorError {
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
    return new ConnectorError('upstream_unavailable', detail, {
      userMessage: 'GitHub is having problems right now. Please try again.',
    });
  }
  logger.warn({ request: req.what, status: res.status }, 'github request refused');
  return new ConnectorError('upstream_error', detail, {
    userMessage: `GitHub refused a request (HTTP ${res.status}). Please tell your administrator.`,
  });
}
