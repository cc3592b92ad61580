/** Error codes a connector throws; the issuer renders each as the right page. */
export const ConnectorErrorCodes = {
  /** The upstream or a policy refused the user → 403 page. */
  AccessDenied: 'access_denied',
  /** The user is not in any required group/org/team → 403 page. */
  NotInRequiredGroups: 'not_in_required_groups',
  /** The upstream could not be reached, timed out, or rate-limited us → 502 page with a retry link. */
  UpstreamUnavailable: 'upstream_unavailable',
  /** The upstream answered with an error or a malformed response → 502 page. */
  UpstreamError: 'upstream_error',
  /** The callback does not belong to this login (state, nonce or PKCE mismatch) → 400 page. */
  InvalidState: 'invalid_state',
  /** The upstream identity can no longer be refreshed (user removed, token revoked). */
  RefreshFailed: 'refresh_failed',
  /** The connector's configuration is invalid → start-up error naming the key. */
  InvalidConfiguration: 'invalid_configuration',
} as const;

export type ConnectorErrorCode = (typeof ConnectorErrorCodes)[keyof typeof ConnectorErrorCodes];

export interface ConnectorErrorOptions {
  /** Text safe to show the user (no secrets, no upstream tokens). */
  userMessage?: string;
  /** Config key path for `invalid_configuration`. */
  key?: string;
  /** Seconds until a retry may succeed (rate limits). */
  retryAfter?: number;
  /**
   * Upstream state that changed before the failure and must be persisted anyway, replacing the
   * stored `connectorData` (e.g. a single-use upstream refresh token rotated just before a later
   * read failed: losing the new one would end the session for good). Only on `refresh` errors; the
   * issuer stores it for the refreshed user, then fails the refresh as `code` says.
   */
  connectorData?: unknown;
  cause?: unknown;
}

export class ConnectorError extends Error {
  readonly code: ConnectorErrorCode;
  readonly userMessage: string | undefined;
  readonly key: string | undefined;
  readonly retryAfter: number | undefined;
  /** See `ConnectorErrorOptions.connectorData`. */
  readonly connectorData: unknown;

  constructor(code: ConnectorErrorCode, message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.userMessage = options.userMessage;
    this.key = options.key;
    this.retryAfter = options.retryAfter;
    this.connectorData = options.connectorData;
  }
}

/**
 * The same failure carrying `connectorData` to persist (see `ConnectorErrorOptions.connectorData`).
 * Anything that is not a ConnectorError becomes `upstream_error`, so the data is not lost to a bug.
 */
export function withConnectorData(error: unknown, connectorData: unknown): ConnectorError {
  if (isConnectorError(error)) {
    return new ConnectorError(error.code, error.message, {
      ...(error.userMessage !== undefined ? { userMessage: error.userMessage } : {}),
      ...(error.key !== undefined ? { key: error.key } : {}),
      ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
      ...(error.cause !== undefined ? { cause: error.cause } : {}),
      connectorData,
    });
  }
  return new ConnectorError(
    'upstream_error',
    `unexpected failure: ${error instanceof Error ? error.name : typeof error}`,
    {
      cause: error,
      connectorData,
    },
  );
}

export function isConnectorError(e: unknown): e is ConnectorError {
  return e instanceof Error && e.name === 'ConnectorError' && typeof (e as ConnectorError).code === 'string';
}

/** HTTP status the issuer answers a connector error with. */
export function statusForConnectorError(code: ConnectorErrorCode): number {
  switch (code) {
    case 'access_denied':
    case 'not_in_required_groups':
      return 403;
    case 'upstream_unavailable':
    case 'upstream_error':
      return 502;
    case 'invalid_state':
      return 400;
    case 'refresh_failed':
      return 401;
    case 'invalid_configuration':
      return 500;
  }
}
