// Per-flow CSRF cookies: state, nonce, PKCE verifier and the app redirect of one login, sealed under a name
// derived from the state, so parallel logins in several tabs do not overwrite each other. Their number is bounded:
// starting one more flow evicts the oldest.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ForwardAuthConfig } from './config/schema.ts';
import { CookieCipher } from './session/cipher.ts';
import { RequestCookies, deletions, escapeRegExp, serializeCookie, type CookieAttributes } from './session/cookies.ts';

export interface Flow {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly redirect: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type TakeResult =
  | { readonly ok: true; readonly flow: Flow; readonly cookieName: string }
  | {
      readonly ok: false;
      readonly reason: 'missing' | 'invalid' | 'expired' | 'state_mismatch';
      readonly cookieName?: string;
    };

const STATE_FORMAT = /^[A-Za-z0-9_-]{16,128}$/;

export class CsrfFlows {
  readonly #cfg: ForwardAuthConfig;
  readonly #cipher: CookieCipher;
  readonly #pattern: RegExp;

  constructor(cfg: ForwardAuthConfig) {
    this.#cfg = cfg;
    this.#cipher = new CookieCipher([cfg.cookie_secret, ...cfg.cookie_secrets], 'csrf');
    this.#pattern = new RegExp(`^${escapeRegExp(cfg.cookie_name)}_[A-Za-z0-9_-]{12}_csrf$`);
  }

  nameFor(state: string): string {
    return `${this.#cfg.cookie_name}_${createHash('sha256').update(state).digest('base64url').slice(0, 12)}_csrf`;
  }

  /** A new flow and its Set-Cookie headers (the new cookie, plus deletions of the oldest flows over the limit). */
  start(
    redirect: string,
    cookieHeader: string | undefined,
    attrs: (maxAge: number) => CookieAttributes,
    now = Date.now(),
  ): { flow: Flow; setCookie: string[] } {
    const flow: Flow = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      redirect,
      createdAt: now,
      expiresAt: now + this.#cfg.cookie_csrf_expire,
    };
    const name = this.nameFor(flow.state);
    const wire = JSON.stringify({
      s: flow.state,
      n: flow.nonce,
      v: flow.codeVerifier,
      r: flow.redirect,
      c: flow.createdAt,
      e: flow.expiresAt,
    });
    const setCookie = [
      serializeCookie(
        name,
        this.#cipher.seal(Buffer.from(wire), name),
        attrs(Math.ceil(this.#cfg.cookie_csrf_expire / 1000)),
      ),
    ];
    // Keep at most `limit` flows including the new one: drop unreadable ones first, then the oldest.
    const cookies = RequestCookies.parse(cookieHeader);
    const existing = [...cookies.names()]
      .filter((n) => this.#pattern.test(n))
      .map((n) => ({ name: n, created: this.#createdAt(n, cookies.values(n)) }))
      .sort((a, b) => a.created - b.created);
    const excess = existing.length + 1 - this.#cfg.cookie_csrf_per_request_limit;
    setCookie.push(
      ...deletions(
        existing.slice(0, Math.max(0, excess)).map((old) => old.name),
        attrs(0),
      ),
    );
    return { flow, setCookie };
  }

  /** The flow the callback's state belongs to, checked against its cookie in constant time. */
  take(state: string, cookieHeader: string | undefined, now = Date.now()): TakeResult {
    if (!STATE_FORMAT.test(state)) return { ok: false, reason: 'missing' };
    const cookieName = this.nameFor(state);
    const values = RequestCookies.parse(cookieHeader).values(cookieName);
    if (values.length === 0) return { ok: false, reason: 'missing' };
    // Two cookies under one flow's name: one was tossed by someone who knew the state. Neither is trusted.
    if (values.length > 1) return { ok: false, reason: 'invalid', cookieName };
    const value = values[0] as string;
    const flow = this.#open(cookieName, value);
    if (flow === undefined) return { ok: false, reason: 'invalid', cookieName };
    const a = Buffer.from(flow.state);
    const b = Buffer.from(state);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'state_mismatch', cookieName };
    if (now >= flow.expiresAt) return { ok: false, reason: 'expired', cookieName };
    return { ok: true, flow, cookieName };
  }

  /** Names of every flow cookie a request carries (for sign-out; delete them with `deletions`, which bounds them). */
  present(cookieHeader: string | undefined): string[] {
    return [...RequestCookies.parse(cookieHeader).names()].filter((n) => this.#pattern.test(n));
  }

  /** When a flow cookie was created; -1 (evicted first) when unreadable or sent more than once. */
  #createdAt(name: string, values: readonly string[]): number {
    return values.length === 1 ? (this.#open(name, values[0] as string)?.createdAt ?? -1) : -1;
  }

  #open(name: string, value: string): Flow | undefined {
    const plain = this.#cipher.open(value, name);
    if (plain === undefined) return undefined;
    try {
      const w = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
      const { s, n, v, r, c, e } = w;
      if (typeof s !== 'string' || typeof n !== 'string' || typeof v !== 'string' || typeof r !== 'string')
        return undefined;
      if (typeof c !== 'number' || typeof e !== 'number') return undefined;
      return { state: s, nonce: n, codeVerifier: v, redirect: r, createdAt: c, expiresAt: e };
    } catch {
      return undefined;
    }
  }
}
