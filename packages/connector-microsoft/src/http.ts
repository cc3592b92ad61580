import { ConnectorError } from '@gatehouse/connector-kit';

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Short name of the upstream for messages: "token endpoint", "Microsoft Graph". */
  what: string;
  /** Largest body accepted (default `MAX_BODY_BYTES`). */
  maxBodyBytes?: number;
  /**
   * The request changes nothing upstream, so it may be sent twice. Default: only GET. Never set it
   * for a token request: its code or refresh token may be spent by the first attempt.
   */
  idempotent?: boolean;
}

const UNAVAILABLE_MESSAGE = 'Microsoft sign-in is not reachable right now. Try again in a moment.';

/** Parses `Retry-After` (seconds or an HTTP date) into whole seconds. */
export function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Largest answer accepted: discovery, keys, tokens and 100-entry Graph pages are far below it. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A body larger than `MAX_BODY_BYTES`: the upstream is broken or hostile, retrying will not help. */
class BodyTooLarge extends ConnectorError {}

/** Reads a body up to `limit` bytes; leaving the loop early cancels the stream (and the socket). */
async function readBounded(body: ReadableStream<Uint8Array> | null, what: string, limit: number): Promise<string> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) {
      throw new BodyTooLarge('upstream_error', `${what} sent an answer larger than ${limit} bytes`, {
        userMessage: 'Microsoft sign-in sent an unexpected answer.',
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One bounded HTTP request (time: `timeoutMs`; size: `maxBodyBytes`, default `MAX_BODY_BYTES`).
 * Network failures and timeouts become `upstream_unavailable`, an oversized answer
 * `upstream_error`. A GET that failed on the connection (e.g. a socket the upstream closed while
 * idle) is retried once, as is any request marked `idempotent`; a token POST never is: it may carry
 * an authorization code or a refresh token the upstream already received and spent.
 */
export async function httpRequest(url: string, request: HttpRequest, retry = true): Promise<HttpResponse> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers: request.headers ?? {},
      ...(request.body !== undefined ? { body: request.body } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const text = await readBounded(response.body, request.what, request.maxBodyBytes ?? MAX_BODY_BYTES);
    const headers: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      headers[k] = v;
    });
    return { status: response.status, headers, text };
  } catch (cause) {
    if (cause instanceof BodyTooLarge) throw cause;
    const name = (cause as Error).name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    const idempotent = request.idempotent ?? request.method === 'GET';
    if (retry && idempotent && !timedOut) return httpRequest(url, request, false);
    throw new ConnectorError(
      'upstream_unavailable',
      timedOut ? `${request.what} did not answer within ${request.timeoutMs} ms` : `${request.what} unreachable (${name})`,
      { userMessage: UNAVAILABLE_MESSAGE, cause },
    );
  }
}

/** The ConnectorError for an upstream answering 429 or 5xx. */
export function statusError(what: string, status: number, headers: Record<string, string>): ConnectorError {
  const retryAfter = retryAfterSeconds(headers['retry-after']);
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return new ConnectorError('upstream_unavailable', `${what} answered HTTP ${status}`, {
      userMessage: status === 429 ? 'Microsoft is limiting requests right now. Try again shortly.' : UNAVAILABLE_MESSAGE,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }
  return new ConnectorError('upstream_error', `${what} answered HTTP ${status}`, {
    userMessage: 'Microsoft sign-in failed. Try again later.',
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

/** Parses a JSON object body, or throws `upstream_error`. */
export function parseJSONObject(what: string, text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ConnectorError('upstream_error', `${what} sent a response that is not a JSON object`, {
    userMessage: 'Microsoft sign-in sent an unexpected answer.',
  });
}
