// X-Forwarded-* and X-Real-IP are believed only from reverse proxies listed in trusted_proxy_ips.
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export interface RequestOrigin {
  readonly proto: string;
  readonly host: string | undefined;
  /** Path and query of the original request (forwarded) or of this request. */
  readonly uri: string;
  readonly method: string;
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
  readonly #trusted = new BlockList();

  constructor(reverseProxy: boolean, trustedProxyIPs: readonly string[]) {
    this.#enabled = reverseProxy;
    for (const entry of trustedProxyIPs) {
      const [addr, bits] = entry.split('/') as [string, string | undefined];
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#trusted.addAddress(addr, type);
      else this.#trusted.addSubnet(addr, Number(bits), type);
    }
  }

  /** Whether this connection's peer may set forwarded headers (cached on the socket). */
  trusts(req: IncomingMessage): boolean {
    if (!this.#enabled) return false;
    const socket = req.socket as typeof req.socket & { [trustCache]?: boolean };
    const cached = socket[trustCache];
    if (cached !== undefined) return cached;
    let addr = socket.remoteAddress ?? '';
    if (addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4) addr = addr.slice(7);
    const family = isIP(addr);
    const ok = family !== 0 && this.#trusted.check(addr, family === 6 ? 'ipv6' : 'ipv4');
    socket[trustCache] = ok;
    return ok;
  }

  origin(req: IncomingMessage): RequestOrigin {
    const trusted = this.trusts(req);
    const h = req.headers;
    const ownProto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    if (!trusted) {
      return { proto: ownProto, host: h.host, uri: req.url ?? '/', method: req.method ?? 'GET', clientIP: req.socket.remoteAddress, trusted };
    }
    const proto = first(h['x-forwarded-proto'])?.toLowerCase();
    return {
      proto: proto === 'https' || proto === 'http' ? proto : ownProto,
      host: first(h['x-forwarded-host']) ?? h.host,
      uri: first(h['x-forwarded-uri']) ?? originalURI(h['x-original-url']) ?? req.url ?? '/',
      method: (first(h['x-forwarded-method']) ?? first(h['x-original-method']))?.toUpperCase() ?? req.method ?? 'GET',
      clientIP: first(h['x-real-ip']) ?? lastHop(h['x-forwarded-for']) ?? req.socket.remoteAddress,
      trusted,
    };
  }
}

/** Path and query of ingress-nginx's `X-Original-URL` (an absolute URL), when there is no X-Forwarded-Uri. */
function originalURI(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  try {
    const u = new URL(s);
    return `${u.pathname}${u.search}`;
  } catch {
    return undefined;
  }
}

/** The address the trusted proxy appended (the rightmost), not the spoofable leftmost one. */
function lastHop(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v.join(',') : v;
  const parts = s?.split(',').map((p) => p.trim()).filter((p) => p !== '');
  return parts?.[parts.length - 1];
}
