import { z } from 'zod';
import { constantTimeEqual } from './constant-time.ts';
import { ConnectorError } from './errors.ts';
import type { CallbackRequest } from './types.ts';

/**
 * Helpers for callback connectors: the per-login data kept by the issuer (`LoginRedirect.keep`)
 * and the check every callback must pass first, that its `state` is the one kept for this login.
 */

/** The schema of a connector's kept per-login data: the issuer's `state` plus the connector's own fields. */
export type KeptStateSchema<Shape extends z.ZodRawShape> = z.ZodObject<{ state: z.ZodString } & Shape>;

export function keptStateSchema<Shape extends z.ZodRawShape>(shape: Shape): KeptStateSchema<Shape> {
  return z.object({ state: z.string().min(1), ...shape }) as KeptStateSchema<Shape>;
}

/** A PKCE verifier as kept (RFC 7636: at least 43 characters). */
export function pkceVerifierField(): z.ZodString {
  return z.string().min(43);
}

/** The callback's parameters: the form of a `response_mode=form_post` POST, else the query string. */
export function callbackParams(request: CallbackRequest): URLSearchParams {
  return request.method === 'POST' && request.form ? new URLSearchParams(request.form) : request.url.searchParams;
}

/** What the user is told when the state check fails (no secret, no upstream text). */
export interface StateCheckMessages {
  /** No (or unreadable) kept data: the login expired or was started in another browser. */
  missing?: string;
  /** The callback's state is not this login's. */
  mismatch?: string;
}

const START_AGAIN = 'This sign-in has expired or was started elsewhere. Please start again.';

/**
 * Parses the kept data and compares the callback's `state` with the kept one in constant time.
 * Call it before anything else, so a foreign callback never spends its code. Throws
 * `invalid_state`; returns the kept data, typed.
 */
export function verifyCallbackState<Kept extends { state: string }>(
  schema: z.ZodType<Kept>,
  kept: unknown,
  params: URLSearchParams,
  messages: StateCheckMessages = {},
): Kept {
  const parsed = schema.safeParse(kept);
  if (!parsed.success) {
    throw new ConnectorError('invalid_state', 'no login state kept for this callback', {
      userMessage: messages.missing ?? START_AGAIN,
    });
  }
  const state = params.get('state');
  if (state === null || !constantTimeEqual(state, parsed.data.state)) {
    throw new ConnectorError('invalid_state', 'callback state does not match this login', {
      userMessage: messages.mismatch ?? START_AGAIN,
    });
  }
  return parsed.data;
}

/**
 * An OAuth `error` value from a callback or token answer, cut to the characters an error code
 * has: anyone can forge a callback URL, so the raw value must not reach a page or a log verbatim.
 */
export function oauthErrorCode(raw: string): string {
  return raw.replace(/[^\w.-]/g, '').slice(0, 64);
}
