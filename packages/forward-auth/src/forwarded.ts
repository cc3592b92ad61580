// X-Forwarded-* and X-Real-IP are believed only from reverse proxies listed in trusted_proxy_ips.
import type { IncomingMessage } from 'node:http';
import { AddressList } from '@gatehouse/common';

export interface RequestOrigin {
  readonly proto: string;
  readonly host: string | undefined;
  /** Path and query of the original request (forwarded; `*` when unknown or ambiguous), or of this request. */
  readonly uri: string;
  /**
   * Method of the original request. From a trusted proxy: X-Forwarded-Method / X-Original-Method, undefined
   * when neither is sent, when they disagree or when one is malformed (the auth subrequest itself is always a
   * GET, so our own request method says nothing about the original one).
   */
  readonly method: string | undefined;
  readonly clientIP: string | undefined;
  readonly trusted: boolean;
}

const trustCache = Symbol('gatehouse.trustedPeer');

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const t = s.split(',')[0]?.trim();
  return t === '' ? undefined : t;
}

export class ForwardedHeaders {
  readonly #enabled: boolean;
  readonly #trusted: AddressList;

  constructor(reverseProxy: boolean, trustedProxyIPs: readonly string[]) {
    this.#enabled = reverseProxy;
    this.#trusted = new AddressList(trustedProxyIPs);
  }

  /** Whether this connection's peer may set forwarded headers (cached on the socket). */
  trusts(req: IncomingMessage): boolean {
    if (!this.#enabled) return false;
    const socket = req.socket as typeof req.socket & { [trustCache]?: boolean };
    const cached = socket[trustCache];
    if (cached !== undefined) return cached;
    const ok = this.#trusted.has(socket.remoteAddress);
    socket[trustCache] = ok;
    return ok;
  }

  origin(req: IncomingMessage): RequestOrigin {
    const trusted = this.trusts(req);
    const h = req.headers;
    const ownProto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    if (!trusted) {
      return {
        proto: ownProto,
        host: h.host,
        uri: req.url ?? '/',
        method: req.method ?? 'GET',
        clientIP: req.socket.remoteAddress,
        trusted,
      };
    }
    const proto = first(h['x-forwarded-proto'])?.toLowerCase();
    return {
      proto: proto === 'https' || proto === 'http' ? proto : ownProto,
      host: first(h['x-forwarded-host']) ?? h.host,
      // Without a forwarded URI our own /oauth2/auth URL says nothing about the original request.
      uri: forwardedURI(req) ?? AMBIGUOUS_URI,
      method: forwardedMethod(req),
      clientIP: first(h['x-real-ip']) ?? lastHop(h['x-forwarded-for']) ?? req.socket.remoteAddress,
      trusted,
    };
  }
}

/** The one value of a header; undefined when absent or empty, `null` when sent more than once (ambiguous). */
function single(req: IncomingMessage, name: string): string | undefined | null {
  const all = req.headersDistinct[name];
  if (all === undefined) return undefined;
  if (all.length !== 1) return null;
  const t = (all[0] as string).trim();
  return t === '' ? undefined : t;
}

/**
 * The original method from oauth2-proxy's X-Forwarded-Method and ingress-nginx's X-Original-Method. A proxy
 * that sets one of them may pass the other straight from the client (ingress-nginx forwards a client's
 * X-Forwarded-Method), so when both are present they must agree. Anything absent, repeated, malformed or
 * contradictory is undefined, which no method-restricted rule matches.
 */
function forwardedMethod(req: IncomingMessage): string | undefined {
  const a = single(req, 'x-forwarded-method');
  const b = single(req, 'x-original-method');
  if (a === null || b === null) return undefined;
  const m = (a ?? b)?.toUpperCase();
  if (m === undefined || !/^[A-Z]{1,20}$/.test(m)) return undefined;
  if (a !== undefined && b !== undefined && a.toUpperCase() !== b.toUpperCase()) return undefined;
  return m;
}

/** `*`: an original URI we cannot determine unambiguously. No route rule accepts it (it is not a path). */
export const AMBIGUOUS_URI = '*';

/**
 * Path and query of the original request: X-Forwarded-Uri, else the path and query of ingress-nginx's
 * X-Original-URL (an absolute URL, taken as sent after a plain authority: dot segments and escapes are judged
 * by the route matcher, not resolved by a URL parser here). When both are present they must name the same URI, since ingress-nginx sets only
 * X-Original-URL and forwards a client's X-Forwarded-Uri as it came.
 */
function forwardedURI(req: IncomingMessage): string | undefined {
  const a = single(req, 'x-forwarded-uri');
  const o = single(req, 'x-original-url');
  let b: string | undefined | null = o;
  if (typeof o === 'string') {
    // The authority must be a plain host[:port]: with anything else (`%`, `@`, `\`) where the authority ends
    // is a matter of opinion, and so is the path that follows it.
    const rest = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?([/?].*)?$/.exec(o);
    b = rest === null ? null : (rest[1] ?? '/');
  }
  if (a === null || b === null) return AMBIGUOUS_URI;
  if (a !== undefined && b !== undefined && a !== b) return AMBIGUOUS_URI;
  return a ?? b;
}

/** The address the trusted proxy appended (the rightmost), not the spoofable leftmost one. */
function lastHop(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v.join(',') : v;
  const parts = s
    ?.split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return parts?.[parts.length - 1];
}
