import type { Dispatcher } from 'undici';
import type { ConnectorLogger } from '../types.ts';

/** Names one call for messages: `upstream` as users know it ("GitHub"), `what` for logs ("GET /user"). */
export interface UpstreamCall {
  /** The upstream as users know it: "GitHub", "Microsoft sign-in". Used in `userMessage`s. */
  upstream: string;
  /** The request for logs and `message`s, without secrets or query: "GET /user", "token endpoint". */
  what: string;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One bounded request. */
export interface BoundedRequest extends UpstreamCall {
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Bound on the whole exchange: connect, headers and body. */
  timeoutMs: number;
  /** Largest body read; a larger one is cut off with `upstream_error`. Default `DEFAULT_MAX_BODY_BYTES`. */
  maxBodyBytes?: number;
  /**
   * The request changes nothing upstream, so it may be sent again after a connection failure.
   * Default: GET and HEAD only. Never set it for a token request: its code or refresh token may
   * have been spent by the first attempt.
   */
  idempotent?: boolean;
  /** Connection pool to use (an undici `Agent`); default undici's global one. */
  dispatcher?: Dispatcher;
  /** Receives a debug line per answer and a warning per failure (never headers or bodies). */
  logger?: ConnectorLogger;
}

/** An upstream's answer, body read in full (within the bounds). Redirects are answers, not followed. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}
