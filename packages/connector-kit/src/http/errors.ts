import { ConnectorError } from '../errors.ts';
import { parseRetryAfter } from './retry-after.ts';
import type { UpstreamCall } from './types.ts';

/** Certificate problems: a wrong CA setting is a configuration error that retrying will not fix. */
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

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Why a request got no answer. */
export type TransportFailure =
  { kind: 'timeout' } | { kind: 'untrusted_certificate'; code: string } | { kind: 'network'; code: string };

/** Classifies what `fetch` threw (its `cause` carries the socket's error code). */
export function classifyTransportFailure(error: unknown): TransportFailure {
  const name = error instanceof Error ? error.name : '';
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  if (name === 'TimeoutError' || name === 'AbortError' || (code !== undefined && TIMEOUT_CODES.has(code)))
    return { kind: 'timeout' };
  if (code !== undefined && TLS_TRUST_ERRORS.has(code)) return { kind: 'untrusted_certificate', code };
  return { kind: 'network', code: code ?? (name || 'unknown') };
}

/**
 * The ConnectorError for a request that got no answer: a timeout or a network failure is
 * `upstream_unavailable` (try again), an untrusted certificate `upstream_error` (tell the admin).
 */
export function transportError(
  call: UpstreamCall & { url: string; timeoutMs: number },
  failure: TransportFailure,
  cause: unknown,
): ConnectorError {
  switch (failure.kind) {
    case 'timeout':
      return new ConnectorError(
        'upstream_unavailable',
        `${call.upstream}: ${call.what} did not answer within ${call.timeoutMs} ms`,
        {
          userMessage: `${call.upstream} did not answer in time. Please try again.`,
          cause,
        },
      );
    case 'untrusted_certificate':
      return new ConnectorError(
        'upstream_error',
        `${call.upstream}: TLS certificate of ${new URL(call.url).host} not trusted (${failure.code}); check the configured CA`,
        {
          userMessage: `The connection to ${call.upstream} could not be verified. Please tell your administrator.`,
          cause,
        },
      );
    case 'network':
      return new ConnectorError(
        'upstream_unavailable',
        `${call.upstream}: ${call.what} unreachable (${failure.code})`,
        {
          userMessage: `${call.upstream} could not be reached. Please try again.`,
          cause,
        },
      );
  }
}

/** A body larger than the limit: the upstream is broken or hostile, and sending again will not help. */
export class BodyTooLargeError extends ConnectorError {}

export function bodyTooLarge(call: UpstreamCall, limit: number): BodyTooLargeError {
  return new BodyTooLargeError(
    'upstream_error',
    `${call.upstream}: the answer to ${call.what} exceeds ${limit} bytes`,
    {
      userMessage: `${call.upstream} sent an answer that could not be understood.`,
    },
  );
}

/** Statuses that say "later": rate limited, or a gateway in front of the upstream is failing. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/**
 * The ConnectorError for an upstream that answered 429 or 5xx: 429/502/503/504 are
 * `upstream_unavailable` with `retryAfter` from `Retry-After`; any other status is
 * `upstream_error` (the upstream is broken, not busy).
 */
export function statusError(call: UpstreamCall, status: number, retryAfterHeader?: string | null): ConnectorError {
  const retryAfter = parseRetryAfter(retryAfterHeader);
  const withRetry = retryAfter !== undefined ? { retryAfter } : {};
  if (isTransientStatus(status)) {
    return new ConnectorError('upstream_unavailable', `${call.what} answered HTTP ${status}`, {
      userMessage:
        status === 429
          ? `${call.upstream} is limiting requests right now. Try again shortly.`
          : `${call.upstream} is not reachable right now. Try again in a moment.`,
      ...withRetry,
    });
  }
  return new ConnectorError('upstream_error', `${call.what} answered HTTP ${status}`, {
    userMessage: `${call.upstream} failed. Try again later.`,
    ...withRetry,
  });
}
