// Session refresh at the issuer, once per session however many requests arrive at that moment (single-flight
// keyed by the sealed cookie value). The outcome is remembered on the old entry until the old cookie's own expiry
// (as long as the bounded session cache keeps it), so a request still carrying the old cookie gets the new one
// instead of replaying the rotated refresh token: outside the issuer's reuse window such a replay makes the
// issuer revoke the whole grant, the new session with it.
import type { Logger } from 'pino';
import { claimOptions, identityFromClaims } from './claims.ts';
import type { ForwardAuthConfig } from './config/schema.ts';
import type { ForwardAuthMetrics } from './metrics.ts';
import { IssuerError, IssuerErrorCode, type OidcClient } from './oidc/client.ts';
import type { LoadedSession, SessionEntry, SessionFate, SessionManager } from './session/manager.ts';

/** How many refreshed generations a replayed old cookie is followed through to the newest session. */
const MAX_CHAIN = 8;
const RETRY_AFTER_FAILURE_MS = 30_000;

export type RefreshOutcome =
  /** `written`: the Set-Cookie headers of the new session (one, or its chunks; no deletions of stale ones). */
  | { readonly kind: 'refreshed'; readonly entry: SessionEntry; readonly written: readonly string[] }
  | { readonly kind: 'revoked' }
  /** The issuer could not be reached: the current session stays valid until its own expiry. */
  | { readonly kind: 'kept'; readonly entry: SessionEntry };

export class Refresher {
  readonly #inflight = new Map<string, Promise<RefreshOutcome>>();
  readonly #cfg: ForwardAuthConfig;
  readonly #oidc: OidcClient;
  readonly #sessions: SessionManager;
  readonly #log: Logger;
  readonly #metrics: ForwardAuthMetrics;

  constructor(
    cfg: ForwardAuthConfig,
    oidc: OidcClient,
    sessions: SessionManager,
    log: Logger,
    metrics: ForwardAuthMetrics,
  ) {
    this.#cfg = cfg;
    this.#oidc = oidc;
    this.#sessions = sessions;
    this.#log = log;
    this.#metrics = metrics;
  }

  /** The outcome already known for this session (refreshed or revoked within the grace period), if any. */
  static settled(entry: SessionEntry, now = Date.now()): SessionFate | undefined {
    const first = entry.fate;
    if (first === undefined || now >= first.until) return undefined;
    // A cookie two refreshes old leads to the newest session (or to its end), not to an intermediate one.
    let fate: SessionFate = first;
    for (let i = 0; i < MAX_CHAIN && fate.kind === 'refreshed'; i++) {
      const next: SessionFate | undefined = fate.entry.fate;
      if (next === undefined || now >= next.until) break;
      fate = next;
    }
    return fate;
  }

  refresh(loaded: LoadedSession, host: string | undefined, cookieHeader: string | undefined): Promise<RefreshOutcome> {
    let p = this.#inflight.get(loaded.value);
    if (p === undefined) {
      p = this.#run(loaded, host, cookieHeader).finally(() => this.#inflight.delete(loaded.value));
      this.#inflight.set(loaded.value, p);
    }
    return p;
  }

  async #run(
    loaded: LoadedSession,
    host: string | undefined,
    cookieHeader: string | undefined,
  ): Promise<RefreshOutcome> {
    const { entry } = loaded;
    const old = entry.session;
    const refreshToken = old.refreshToken;
    if (refreshToken === undefined) {
      entry.refreshAt = Infinity;
      return { kind: 'kept', entry };
    }
    const started = performance.now();
    try {
      const tokens = await this.#oidc.refresh(refreshToken);
      let identity = entry.identity;
      if (tokens.claims !== undefined) {
        const r = identityFromClaims(tokens.claims, claimOptions(this.#cfg));
        if (!r.ok || r.identity.user !== old.user) return this.#revoke(entry, r.ok ? 'subject changed' : r.reason);
        identity = r.identity;
      }
      const session = this.#sessions.create(
        identity,
        {
          idToken: tokens.idToken ?? old.idToken,
          accessToken: tokens.accessToken ?? old.accessToken,
          refreshToken: tokens.refreshToken ?? refreshToken,
        },
        old.cookieDomain,
        Date.now(),
        old,
      );
      const sealed = this.#sessions.seal(session, host, cookieHeader);
      if (!sealed.entry.authorized) return this.#revoke(entry, 'no longer authorized');
      entry.fate = { kind: 'refreshed', entry: sealed.entry, written: sealed.written, until: old.expiresAt };
      this.#metrics.refreshes.inc({ outcome: 'refreshed' });
      this.#log.info({ user: old.user }, 'session refreshed');
      return { kind: 'refreshed', entry: sealed.entry, written: sealed.written };
    } catch (err) {
      if (
        err instanceof IssuerError &&
        (err.code === IssuerErrorCode.InvalidGrant || err.oauthError === 'invalid_client')
      ) {
        return this.#revoke(entry, err.message);
      }
      if (err instanceof IssuerError && err.code === IssuerErrorCode.InvalidToken) {
        return this.#revoke(entry, err.message);
      }
      entry.refreshAt = Date.now() + RETRY_AFTER_FAILURE_MS;
      this.#metrics.refreshes.inc({ outcome: 'failed' });
      this.#log.warn({ user: old.user, err: (err as Error).message }, 'session refresh failed; keeping the session');
      return { kind: 'kept', entry };
    } finally {
      this.#metrics.issuerLatency.observe({ operation: 'refresh' }, (performance.now() - started) / 1000);
    }
  }

  #revoke(entry: SessionEntry, reason: string): RefreshOutcome {
    entry.fate = { kind: 'revoked', until: entry.session.expiresAt };
    this.#metrics.refreshes.inc({ outcome: 'revoked' });
    this.#log.info({ user: entry.session.user, reason }, 'session ended at refresh');
    return { kind: 'revoked' };
  }
}
