/** `expiry`: every lifetime, in seconds. Gatehouse's defaults are finite where Dex's are not. */
import { z } from 'zod';
import { parseDuration } from '@gatehouse/common';
import { type RuleContext, type Raw, rec, str } from '../context.ts';
import { duration, lifetime } from '../values.ts';

export const expirySchema = z.object({
  /** Signing-key rotation period. Default 6h (Dex's signer.config.keysRotationPeriod wins: finishExpiry). */
  signingKeys: lifetime.default(6 * 3600),
  /** ID and access token lifetime. Default 24h. */
  idTokens: lifetime.default(24 * 3600),
  /** Login (interaction) lifetime. Dex default 24h; Gatehouse 1h (a login that takes longer starts over). */
  authRequests: lifetime.default(3600),
  /** Device-flow request lifetime. Default 5m. */
  deviceRequests: lifetime.default(5 * 60),
  /** Gatehouse: authorization-code lifetime (Dex: fixed 30m). Default 10m. */
  authCodes: lifetime.default(10 * 60),
  refreshTokens: z
    .object({
      disableRotation: z.boolean().default(false),
      /** Seconds a rotated-out refresh token is still accepted. Default 3s. */
      reuseInterval: duration.default(3),
      /** Gatehouse: finite by default (90 days from first issue); Dex never expires refresh tokens by default. */
      absoluteLifetime: lifetime.default(90 * 24 * 3600),
      /** Gatehouse: finite by default (30 days idle). */
      validIfNotUsedFor: lifetime.default(30 * 24 * 3600),
    })
    .prefault({}),
});

export type ExpiryConfig = z.output<typeof expirySchema>;

export function checkExpiry(file: Raw, ctx: RuleContext): void {
  const refresh = rec(rec(file, 'expiry'), 'refreshTokens');
  const abs = str(refresh, 'absoluteLifetime');
  const idle = str(refresh, 'validIfNotUsedFor');
  const a = abs === undefined ? undefined : parseDuration(abs);
  const i = idle === undefined ? undefined : parseDuration(idle);
  if (a !== undefined && i !== undefined && i > a) {
    ctx.warnings.push({
      path: 'expiry.refreshTokens.validIfNotUsedFor',
      message: 'longer than absoluteLifetime, so it never applies',
    });
  }
}

/** Dex's `signer.config.keysRotationPeriod` (checkSigner) replaces `signingKeys`. */
export function finishExpiry(parsed: ExpiryConfig, signer: { keysRotationPeriod?: number }): ExpiryConfig {
  return { ...parsed, signingKeys: signer.keysRotationPeriod ?? parsed.signingKeys };
}
