/** Response hardening shared by every page, the trusted-proxy filter and the client address. */
import type { IncomingMessage } from 'node:http';
import { AddressList, unmapIPv4 as normalise } from '@gatehouse/common';

/**
 * The strict CSP of every HTML page. `formTargets` are the sources a form on the page may end up
 * at (Chrome applies form-action to the redirects that follow a submission): 'self' alone for
 * forms that end on the issuer, `handoffFormTargets` for forms that end at a client.
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
 * The form-action sources of a page whose form hands the browser to a client: the issuer (the
 * form posts to us), the client URLs' origins, and their schemes. Chromium checks form-action
 * against every redirect that follows a submission, and a client sends the browser on to places
 * we cannot list: forward-auth's callback to the app host (`rd`, another subdomain), its
 * post-logout page to `rd` → /oauth2/start → /auth → the upstream IdP's origin. A 303 to a
 * same-origin GET would not help (the redirects stay part of the form's navigation); only an
 * interstitial page (meta refresh) would end it, at the price of the standard redirects that RPs
 * and non-browser clients follow. So the chain may go anywhere on the client's scheme (`https:`
 * for an https client: never down to cleartext; `http:` also admits https), no other scheme.
 * (The origins are implied by the scheme; they are listed to name where the form goes.) Everything
 * else on these pages stays strict: no script, no framing, no <base>, escaped values.
 */
export function handoffFormTargets(clientURLs: readonly string[]): string[] {
  const targets = new Set<string>(['self']);
  const schemes = new Set<string>();
  for (const url of clientURLs) {
    const origin = originOf(url);
    if (origin === undefined) continue;
    targets.add(origin);
    schemes.add(new URL(origin).protocol);
  }
  // `http:` matches https too, so it replaces `https:` when both are present.
  if (schemes.has('http:')) targets.add('http:');
  else if (schemes.has('https:')) targets.add('https:');
  return [...targets];
}

/**
 * The form-action sources of the login pages (password, approval, the upstream form_post
 * Continue page): the issuer and the exact origins of `urls` (the client's redirect_uri), never
 * a scheme. Their forms post to the issuer, and a successful submission is answered with a page
 * that moves on by itself (login/routes.ts continueTo), so the redirects that follow, to hosts we cannot
 * list, are not part of the form's navigation.
 */
export function exactFormTargets(urls: readonly string[]): string[] {
  const targets = new Set<string>(['self']);
  for (const url of urls) {
    const origin = originOf(url);
    if (origin !== undefined) targets.add(origin);
  }
  return [...targets];
}

/**
 * The CSP on responses oidc-provider renders itself (JSON, and pages we replace with our own:
 * errors, logout, device, and the auto-submitting form_post/logout page, see oidc/provider.ts). No
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

/** One AddressList per configured list (the config's array lives as long as the server). */
const lists = new WeakMap<readonly string[], AddressList>();

/** True when `address` is one of the configured proxies (IPv4/IPv6 addresses or CIDRs). */
export function isTrustedProxy(address: string | undefined, trusted: readonly string[]): boolean {
  let list = lists.get(trusted);
  if (list === undefined) {
    list = new AddressList(trusted);
    lists.set(trusted, list);
  }
  return list.has(address);
}

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the right-most
 * X-Forwarded-For entry that is not a trusted proxy. Entries further left were written by the
 * client (or by proxies we do not trust) and are ignored, so a client cannot choose its address
 * (throttling keys on it). Used by the login form and the password grant alike.
 */
export function clientAddress(req: IncomingMessage, trusted: readonly string[]): string {
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
