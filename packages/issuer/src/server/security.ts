/** Response hardening shared by every page, the trusted-proxy filter and the client address. */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The strict CSP of every HTML page. `formTargets` are the origins a form on the page may end up
 * at (Chrome applies form-action to the redirects that follow a submission, so the client's
 * redirect_uri origin must be listed on the login and approval pages).
 */
export function contentSecurityPolicy(formTargets: string[]): string {
  const targets = [...new Set(formTargets.map((t) => (t === 'self' ? "'self'" : t)))];
  if (!targets.includes("'self'")) targets.unshift("'self'");
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    `form-action ${targets.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The CSP of the logout confirmation pages: as strict as every page (no script, no framing, no
 * <base>), but without `form-action`. Chromium checks form-action against every redirect that
 * follows a submission, and the confirmation ends in the client's post_logout_redirect_uri, which
 * may lead on anywhere: forward-auth's `rd` → /oauth2/start → /auth → the upstream IdP's origin.
 * A 303 to a same-origin GET does not help (the redirects stay part of the form's navigation, and
 * Chromium blocks them all the same); only ending the navigation on an interstitial page (meta
 * refresh) would, at the price of the standard redirect RPs and non-browser clients follow. The
 * page's only form posts to ourselves with an xsrf token, every value on it is escaped and no
 * script can run, so form-action protected nothing there that these directives do not.
 */
export function logoutContentSecurityPolicy(): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The CSP on responses oidc-provider renders itself (JSON, and pages we replace with our own:
 * errors, logout, device, and the auto-submitting form_post/logout page, see provider.ts). No
 * script-src: no page needs a script, and oidc-provider only adds its inline-script hash to an
 * existing script-src.
 */
export function providerContentSecurityPolicy(): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The origin of a URL for a CSP source list, or undefined for anything odd. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

function normalise(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** True when `address` is one of the configured proxies (IPs or IPv4 CIDRs). */
export function isTrustedProxy(address: string | undefined, trusted: string[]): boolean {
  if (!address) return false;
  const ip = normalise(address);
  for (const entry of trusted) {
    const [base, bits] = entry.split('/');
    if (!base) continue;
    if (bits === undefined) {
      if (normalise(base) === ip) return true;
      continue;
    }
    if (isIP(base) === 4 && isIP(ip) === 4) {
      const n = Number(bits);
      const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
      if ((ipv4ToInt(base) & mask) === (ipv4ToInt(ip) & mask)) return true;
    }
  }
  return false;
}

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the right-most
 * X-Forwarded-For entry that is not a trusted proxy. Entries further left were written by the
 * client (or by proxies we do not trust) and are ignored, so a client cannot choose its address
 * (throttling keys on it). Used by the login form and the password grant alike.
 */
export function clientAddress(req: IncomingMessage, trusted: string[]): string {
  const peer = normalise(req.socket.remoteAddress ?? '') || 'unknown';
  if (!isTrustedProxy(peer, trusted)) return peer;
  const raw = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalise(hops[i] as string);
    if (!isTrustedProxy(hop, trusted)) return hop.slice(0, 64);
  }
  // Every hop is a proxy of ours: the left-most one is as close to the client as we can get.
  return hops[0] !== undefined ? normalise(hops[0]).slice(0, 64) : peer;
}
