import {
  boundedFetch,
  DEFAULT_MAX_BODY_BYTES,
  parseJSONObject as parseObject,
  parseRetryAfter,
  statusError as upstreamStatusError,
} from '@gatehouse/connector-kit';
import type { ConnectorError } from '@gatehouse/connector-kit';

/** How users know the upstream, in the kit's messages ("Microsoft sign-in did not answer in time"). */
const UPSTREAM = 'Microsoft sign-in';

/** An answer with plain-object headers: what msal's `NetworkResponse` carries. */
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

/** Parses `Retry-After` (seconds or an HTTP date) into whole seconds. */
export const retryAfterSeconds: (value: string | undefined) => number | undefined = (value) => parseRetryAfter(value);

/** Largest answer accepted: discovery, keys, tokens and 100-entry Graph pages are far below it. */
export const MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;

/**
 * One request through the kit's bounded transport (time: `timeoutMs`; size: `maxBodyBytes`).
 * Network failures and timeouts become `upstream_unavailable`, an oversized answer
 * `upstream_error`. A GET that failed on the connection is sent once more, as is any request
 * marked `idempotent`; a token POST never is: the upstream may already have spent its code.
 */
export async function httpRequest(url: string, request: HttpRequest): Promise<HttpResponse> {
  const response = await boundedFetch({ upstream: UPSTREAM, url, ...request });
  return { status: response.status, headers: Object.fromEntries(response.headers), text: response.text };
}

/** The ConnectorError for an upstream answering 429 or 5xx (429/502/503/504: upstream_unavailable). */
export function statusError(what: string, status: number, headers: Record<string, string>): ConnectorError {
  return upstreamStatusError({ upstream: UPSTREAM, what }, status, headers['retry-after']);
}

/** Parses a JSON object body, or throws `upstream_error`. */
export function parseJSONObject(what: string, text: string): Record<string, unknown> {
  return parseObject({ upstream: UPSTREAM, what }, text);
}
