/**
 * A login through the stack's nginx without a browser: /oauth2/start → issuer (connector choice → Dex's
 * `mockCallback`, so the stack needs `withMockConnector: true`) → /oauth2/callback, following redirects by
 * hand and keeping cookies as a browser would for the stack's hosts (path and expiry only).
 */
import { http1, type Answer, type EdgeTarget } from './client.ts';

export class Jar {
  readonly #cookies = new Map<string, string>();
  store(res: Answer): void {
    const set = res.headers['set-cookie'];
    for (const line of Array.isArray(set) ? set : set === undefined ? [] : [set]) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      if (/;\s*max-age=0\b/i.test(line) || /;\s*expires=thu, 01 jan 1970/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, pair.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }
}

export interface Hop {
  url: string;
  status: number;
  location: string | undefined;
}

/**
 * GETs `url` (absolute, on the stack's origin) and follows redirects that stay on `origin` (any port-equal
 * host of the stack), stopping at the first answer that is not a redirect, or a redirect elsewhere, or when
 * `stop(url)` says so. Returns every hop.
 */
export async function follow(
  target: EdgeTarget,
  jar: Jar,
  url: string,
  stop: (next: URL) => boolean = () => false,
  maxHops = 12,
): Promise<Hop[]> {
  const hops: Hop[] = [];
  let current = new URL(url);
  for (let i = 0; i < maxHops; i++) {
    const res = await http1(target, current.pathname + current.search, {
      host: current.host,
      headers: { cookie: jar.header(), accept: 'text/html' },
    });
    jar.store(res);
    const location = typeof res.headers.location === 'string' ? res.headers.location : undefined;
    hops.push({ url: current.href, status: res.status, location });
    if (res.status === 200 && location === undefined) {
      // The issuer's connector choice page: take the mock connector.
      const link = /href="([^"]*\/connector\/mock[^"]*)"/.exec(res.body)?.[1];
      if (link === undefined) return hops;
      current = new URL(link.replace(/&amp;/g, '&'), current);
      continue;
    }
    if (res.status < 300 || res.status >= 400 || location === undefined) return hops;
    const next = new URL(location, current);
    if (
      next.protocol !== 'https:' ||
      next.port !== String(target.port) ||
      !next.hostname.endsWith(target.host) ||
      stop(next)
    )
      return hops;
    current = next;
  }
  return hops;
}

/** Signs in through `/oauth2/start?rd=<rd>`; returns the hops (the last is the callback's redirect to rd). */
export async function signIn(target: EdgeTarget & { origin: string }, jar: Jar, rd = '/'): Promise<Hop[]> {
  return follow(
    target,
    jar,
    `${target.origin}/oauth2/start?rd=${encodeURIComponent(rd)}`,
    (next) => !next.pathname.startsWith('/dex/') && !next.pathname.startsWith('/oauth2/'),
  );
}
