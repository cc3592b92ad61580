/**
 * The refresh-token policy, built once from the expiry config and read by every refresh decision:
 * the adapter (a rotated token inside the reuse window still looks unconsumed), the rotation (its
 * successor, never a second one), oidc-provider's lifetimes (`ttl.RefreshToken`, `ttl.Grant`), the
 * login completion (how long a new grant lives) and `findAccount` (idle and absolute lifetimes,
 * how stale a grant's `lastUsed` may get).
 */
import type { ExpiryConfig } from '../../config/types.ts';

/** oidc-provider wants a finite lifetime; "forever" is a year, as Dex's default. */
const YEAR = 365 * 86400;

export type RefreshExpiry = Pick<ExpiryConfig, 'idTokens' | 'authCodes' | 'refreshTokens'>;

export class RefreshPolicy {
  /** Each refresh rotates the token (Dex: unless `disableRotation`). */
  readonly rotation: boolean;
  /** Seconds a rotated token still yields its successor; 0 = any reuse is a replay (always 0 without rotation). */
  readonly reuseInterval: number;
  /** Seconds a grant may go unused before its refresh tokens die; 0 = no idle limit. */
  readonly validIfNotUsedFor: number;
  /** Seconds from the first issue after which no refresh succeeds; 0 = no limit. */
  readonly absoluteLifetime: number;
  readonly #expiry: RefreshExpiry;
  readonly #now: () => number;

  constructor(expiry: RefreshExpiry, options: { now?: () => number } = {}) {
    const r = expiry.refreshTokens;
    this.#expiry = expiry;
    this.rotation = !r.disableRotation;
    this.reuseInterval = this.rotation ? r.reuseInterval : 0;
    this.validIfNotUsedFor = r.validIfNotUsedFor;
    this.absoluteLifetime = r.absoluteLifetime;
    this.#now = options.now ?? Date.now;
  }

  /** Epoch seconds. */
  now(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** A token consumed at `consumed` (epoch seconds) may still be presented again. */
  inReuseWindow(consumed: unknown): boolean {
    return this.reuseInterval > 0 && typeof consumed === 'number' && this.now() - consumed <= this.reuseInterval;
  }

  /** Seconds a (rotated) refresh token lives: the idle window, never past the absolute lifetime
   * counted from the first issue (`iiat`). */
  tokenTTL(iiat: unknown): number {
    const now = this.now();
    const first = typeof iiat === 'number' ? iiat : now;
    const absolute = this.absoluteLifetime > 0 ? first + this.absoluteLifetime - now : Infinity;
    const idle = this.validIfNotUsedFor > 0 && this.rotation ? this.validIfNotUsedFor : Infinity;
    return Math.max(1, Math.floor(Math.min(absolute, idle, YEAR)));
  }

  /** How long a new grant lives: offline grants as long as their refresh tokens may, others as
   * long as the tokens issued from them. */
  grantTTL(offline: boolean): number {
    const { idTokens, authCodes } = this.#expiry;
    return offline
      ? Math.max(idTokens, this.absoluteLifetime > 0 ? this.absoluteLifetime : YEAR)
      : idTokens + authCodes;
  }

  /**
   * Why a refresh of this grant is refused by the lifetimes, or undefined. The idle window counts
   * from the latest of the grant's `lastUsed` and the presented token's `iat`.
   */
  expired(grant: { lastUsed: number; createdAt: number }, tokenIat: unknown): string | undefined {
    const now = this.now();
    const lastUse = Math.max(grant.lastUsed, typeof tokenIat === 'number' && tokenIat <= now ? tokenIat : 0);
    if (this.validIfNotUsedFor > 0 && now - lastUse > this.validIfNotUsedFor)
      return 'refresh token expired (unused for too long)';
    if (this.absoluteLifetime > 0 && now - grant.createdAt > this.absoluteLifetime) return 'refresh token expired';
    return undefined;
  }

  /**
   * How stale the grant's `lastUsed` may get before a refresh writes it again, or undefined when
   * every refresh must write it.
   *
   * With rotation, every refresh issues a new token whose `iat` is that refresh, and each refresh
   * token lives only for the idle window (`tokenTTL`), so `iat` alone keeps the idle window exact
   * and `lastUsed` is bookkeeping: a refresh whose upstream identity is unchanged rewrites the
   * grant only when `lastUsed` is older than a tenth of the idle window (an hour when there is
   * none). Without rotation the token's `iat` is its first issue, `lastUsed` is the only record of
   * use, and it is written on every refresh (unless there is no idle window).
   */
  lastUsedStaleness(): number | undefined {
    const idle = this.validIfNotUsedFor;
    if (idle <= 0) return 3600;
    return this.rotation ? Math.max(1, Math.floor(idle / 10)) : undefined;
  }
}
