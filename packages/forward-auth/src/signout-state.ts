// The app redirect of a sign-out, carried across the issuer's end_session round-trip. The issuer accepts only the
// exactly registered post_logout_redirect_uri (forward-auth's `<proxy_prefix>/sign_out/done`), so `rd` cannot be
// sent itself: a random `state` goes to the issuer and comes back on the post-logout redirect, and `rd` waits in a
// short-lived sealed cookie bound to that state. The state alone is never a target, and `rd` is re-validated.
import { timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ForwardAuthConfig } from './config/schema.ts';
import { CookieCipher } from './session/cipher.ts';
import { RequestCookies, serializeCookie, type CookieAttributes } from './session/cookies.ts';

const STATE_FORMAT = /^[A-Za-z0-9_-]{16,128}$/;

/** The post_logout_redirect_uri forward-auth sends: the configured one, else `<redirect_url origin><proxy_prefix>/sign_out/done`. */
export function postLogoutRedirectURL(
  cfg: Pick<ForwardAuthConfig, 'post_logout_redirect_url' | 'redirect_url' | 'proxy_prefix'>,
): string {
  return cfg.post_logout_redirect_url ?? new URL(`${cfg.proxy_prefix}/sign_out/done`, cfg.redirect_url).href;
}

export class SignOutStates {
  readonly #cipher: CookieCipher;
  readonly #lifetime: number;
  readonly name: string;

  constructor(cfg: ForwardAuthConfig) {
    this.#cipher = new CookieCipher([cfg.cookie_secret, ...cfg.cookie_secrets], 'signout');
    this.#lifetime = cfg.cookie_csrf_expire;
    this.name = `${cfg.cookie_name}_signout`;
  }

  /** A fresh state and the Set-Cookie that binds `rd` to it in this browser. */
  start(
    rd: string,
    attrs: (maxAge: number) => CookieAttributes,
    now = Date.now(),
  ): { state: string; setCookie: string } {
    const state = oidc.randomState();
    const wire = JSON.stringify({ s: state, r: rd, e: now + this.#lifetime });
    const value = this.#cipher.seal(Buffer.from(wire), this.name);
    return { state, setCookie: serializeCookie(this.name, value, attrs(Math.ceil(this.#lifetime / 1000))) };
  }

  /** The rd bound to `state` by this browser's cookie (not yet re-validated), or undefined. */
  take(state: string | null, cookieHeader: string | undefined, now = Date.now()): string | undefined {
    if (state === null || !STATE_FORMAT.test(state)) return undefined;
    const value = RequestCookies.parse(cookieHeader).unique(this.name);
    if (value === undefined) return undefined;
    const plain = this.#cipher.open(value, this.name);
    if (plain === undefined) return undefined;
    let w: Record<string, unknown>;
    try {
      w = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (typeof w.s !== 'string' || typeof w.r !== 'string' || typeof w.e !== 'number' || now >= w.e) return undefined;
    const a = Buffer.from(w.s);
    const b = Buffer.from(state);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return w.r;
  }

  present(cookieHeader: string | undefined): boolean {
    return RequestCookies.parse(cookieHeader).has(this.name);
  }
}
