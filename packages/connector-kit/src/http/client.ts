import { Agent, fetch } from 'undici';
import { isConnectorError } from '../errors.ts';
import type { ConnectorLogger } from '../types.ts';
import { bodyTooLarge, classifyTransportFailure, transportError } from './errors.ts';
import type { BoundedRequest, HttpResponse, UpstreamCall } from './types.ts';

/** Largest body read by default: discovery documents, keys, tokens and 100-entry pages are far below it. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Reads a body up to `limit` bytes; leaving the loop early cancels the stream (and drops the socket). */
async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  call: UpstreamCall,
  limit: number,
): Promise<string> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw bodyTooLarge(call, limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Sends one request within bounds: `timeoutMs` for the whole exchange, `maxBodyBytes` for the
 * answer. Redirects are returned, not followed. What has no answer becomes a `ConnectorError`
 * (see `transportError`); an oversized answer `upstream_error`. A request that failed on the
 * connection (a kept-alive socket the upstream closed while idle) is sent once more if it is
 * idempotent; a timeout is never retried (the bound would double), nor is any non-idempotent
 * request (a token POST may carry a code the upstream already received and spent).
 */
export async function boundedFetch(request: BoundedRequest): Promise<HttpResponse> {
  const idempotent = request.idempotent ?? (request.method === 'GET' || request.method === 'HEAD');
  for (let attempt = 1; ; attempt += 1) {
    const started = Date.now();
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers ?? {},
        ...(request.body !== undefined ? { body: request.body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(request.timeoutMs),
        ...(request.dispatcher !== undefined ? { dispatcher: request.dispatcher } : {}),
      });
      const text = await readBounded(
        response.body as ReadableStream<Uint8Array> | null,
        request,
        request.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      );
      request.logger?.debug(
        { upstream: request.upstream, request: request.what, status: response.status, ms: Date.now() - started },
        'upstream request',
      );
      return { status: response.status, headers: response.headers as unknown as Headers, text };
    } catch (error) {
      if (isConnectorError(error)) throw error;
      const failure = classifyTransportFailure(error);
      if (failure.kind === 'network' && idempotent && attempt === 1) continue;
      const mapped = transportError(request, failure, error);
      request.logger?.warn(
        {
          upstream: request.upstream,
          request: request.what,
          failure: failure.kind === 'timeout' ? 'timeout' : failure.code,
          ms: Date.now() - started,
        },
        'upstream request failed',
      );
      throw mapped;
    }
  }
}

export interface HttpClientOptions {
  /** The upstream as users know it ("GitHub"), for messages. */
  upstream: string;
  /** Default bound on each request (and the pool's connect, headers and body timeouts). */
  timeoutMs: number;
  /** Default body limit. Default `DEFAULT_MAX_BODY_BYTES`. */
  maxBodyBytes?: number;
  /** PEM CA certificates that replace the system trust store for this client (an enterprise CA). */
  ca?: string | string[];
  /** Sent with every request; a request's own headers win (e.g. `user-agent`). */
  headers?: Record<string, string>;
  logger?: ConnectorLogger;
}

/** What a request through an `HttpClient` needs beyond the client's defaults. */
export type HttpClientRequest = Omit<BoundedRequest, 'upstream' | 'timeoutMs' | 'dispatcher' | 'logger'> & {
  timeoutMs?: number;
};

/**
 * A bounded HTTP client with its own connection pool, so a custom CA applies only to this
 * connector's traffic and `close()` releases every socket. Open one per connector.
 */
export class HttpClient {
  readonly upstream: string;
  readonly timeoutMs: number;
  readonly #agent: Agent;
  readonly #options: HttpClientOptions;

  constructor(options: HttpClientOptions) {
    this.upstream = options.upstream;
    this.timeoutMs = options.timeoutMs;
    this.#options = options;
    this.#agent = new Agent({
      connect: { timeout: options.timeoutMs, ...(options.ca !== undefined ? { ca: options.ca } : {}) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  send(request: HttpClientRequest): Promise<HttpResponse> {
    const o = this.#options;
    return boundedFetch({
      ...request,
      upstream: o.upstream,
      timeoutMs: request.timeoutMs ?? o.timeoutMs,
      headers: { ...o.headers, ...request.headers },
      dispatcher: this.#agent,
      ...(request.maxBodyBytes === undefined && o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
      ...(o.logger !== undefined ? { logger: o.logger } : {}),
    });
  }

  /** Releases the pool; calling it again does nothing. */
  async close(): Promise<void> {
    if (this.#agent.closed || this.#agent.destroyed) return;
    await this.#agent.close();
  }
}
