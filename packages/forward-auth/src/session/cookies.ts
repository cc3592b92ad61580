// Cookie header parsing, Set-Cookie serialisation, domain choice and chunking of large values.

/**
 * The Cookie header of a request read from rawHeaders: `req.headers` is built lazily by Node, and building it
 * (lower-casing every name) costs more than the rest of a cached /oauth2/auth check. Several Cookie lines are
 * joined with "; " as Node does.
 */
export function requestCookieHeader(req: { readonly rawHeaders: readonly string[] }): string | undefined {
  const raw = req.rawHeaders;
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 6 && name.toLowerCase() === 'cookie')
      out = out === undefined ? raw[i + 1] : `${out}; ${raw[i + 1]}`;
  }
  return out;
}

/** Browsers and proxies commonly cap one cookie at 4096 bytes including attributes; keep a margin. */
export const MAX_COOKIE_BYTES = 4000;

export interface CookieAttributes {
  readonly path: string;
  readonly domain?: string;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none';
  /** Seconds; 0 clears the cookie. */
  readonly maxAge: number;
}

/**
 * The one Cookie-header parser (RFC 6265 §4.2.1/§5.4): pairs are separated by ";" and only by ";", optional
 * whitespace (SP, HTAB) around a name and its value is dropped, and so is one pair of DQUOTEs around a value. A
 * space inside a pair belongs to its value, so `pref=x _oauth2_proxy=a` is the single cookie `pref`: nothing can
 * smuggle one of our names into another cookie's value. A pair without "=" or with an empty name is skipped
 * (browsers send nameless cookies; we never set one). `visit` returns false to stop.
 */
function scanPairs(
  header: string,
  visit: (nameStart: number, nameEnd: number, valueStart: number, valueEnd: number) => boolean | void,
): void {
  const len = header.length;
  let start = 0;
  while (start < len) {
    let end = header.indexOf(';', start);
    if (end === -1) end = len;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      const nameStart = skipWS(header, start, eq);
      const nameEnd = trimWS(header, eq, nameStart);
      if (nameEnd > nameStart) {
        let valueStart = skipWS(header, eq + 1, end);
        let valueEnd = trimWS(header, end, valueStart);
        if (
          valueEnd - valueStart >= 2 &&
          header.charCodeAt(valueStart) === 0x22 &&
          header.charCodeAt(valueEnd - 1) === 0x22
        ) {
          valueStart++;
          valueEnd--;
        }
        if (visit(nameStart, nameEnd, valueStart, valueEnd) === false) return;
      }
    }
    start = end + 1;
  }
}

const isWS = (c: number) => c === 0x20 || c === 0x09;
function skipWS(s: string, from: number, max: number): number {
  while (from < max && isWS(s.charCodeAt(from))) from++;
  return from;
}
function trimWS(s: string, to: number, min: number): number {
  while (to > min && isWS(s.charCodeAt(to - 1))) to--;
  return to;
}

/** Every value of every cookie name a request carries, in the order sent. */
export class RequestCookies {
  readonly #byName = new Map<string, string[]>();

  static parse(header: string | undefined): RequestCookies {
    const out = new RequestCookies();
    if (header !== undefined) {
      scanPairs(header, (ns, ne, vs, ve) => {
        const name = header.slice(ns, ne);
        const list = out.#byName.get(name);
        if (list === undefined) out.#byName.set(name, [header.slice(vs, ve)]);
        else list.push(header.slice(vs, ve));
      });
    }
    return out;
  }

  /** Every value sent under `name` (several when a sibling domain or another path set the same name). */
  values(name: string): readonly string[] {
    return this.#byName.get(name) ?? [];
  }

  /**
   * The value of a cookie sent exactly once; undefined when absent or sent more than once. The order of duplicates
   * is no evidence of which one we set (longer Path first, then older first), so security decisions never pick one.
   */
  unique(name: string): string | undefined {
    const list = this.#byName.get(name);
    return list?.length === 1 ? list[0] : undefined;
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  names(): IterableIterator<string> {
    return this.#byName.keys();
  }
}

/** The first value of each cookie name (for non-security uses; security decisions use RequestCookies). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = RequestCookies.parse(header);
  return new Map([...cookies.names()].map((n) => [n, cookies.values(n)[0] as string]));
}

/** `findCookie`'s answer when the name is sent more than once. */
export const SENT_TWICE: unique symbol = Symbol('cookie sent more than once');

/**
 * The value of one cookie without building a map (the hot path of /oauth2/auth), by the same parser: undefined when
 * absent, SENT_TWICE when the name occurs more than once.
 */
export function findCookie(header: string, name: string): string | undefined | typeof SENT_TWICE {
  if (!header.includes(name)) return undefined;
  let found: string | undefined | typeof SENT_TWICE;
  scanPairs(header, (ns, ne, vs, ve) => {
    if (ne - ns !== name.length || !header.startsWith(name, ns)) return true;
    if (found !== undefined) {
      found = SENT_TWICE;
      return false;
    }
    found = header.slice(vs, ve);
    return true;
  });
  return found;
}

/**
 * At most this many deletions in one response. Deletions follow what the request carries, and a browser can carry
 * hundreds of cookies named like ours (junk, or another site under the same domain): one deletion each would exceed
 * nginx's proxy_buffer_size (502) and lock that browser out. The rest goes with the next responses.
 */
export const MAX_DELETIONS_PER_RESPONSE = 8;

/** Set-Cookie headers deleting the first MAX_DELETIONS_PER_RESPONSE of `names`, in order. */
export function deletions(names: Iterable<string>, attributes: CookieAttributes): string[] {
  const out: string[] = [];
  const clear = { ...attributes, maxAge: 0 };
  for (const name of names) {
    if (out.length === MAX_DELETIONS_PER_RESPONSE) break;
    out.push(serializeCookie(name, '', clear));
  }
  return out;
}

export function serializeCookie(name: string, value: string, a: CookieAttributes): string {
  let s = `${name}=${value}; Path=${a.path}`;
  if (a.domain !== undefined) s += `; Domain=${a.domain}`;
  if (a.maxAge <= 0) s += '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
  else s += `; Max-Age=${Math.floor(a.maxAge)}`;
  if (a.secure) s += '; Secure';
  if (a.httpOnly) s += '; HttpOnly';
  s += `; SameSite=${a.sameSite === 'lax' ? 'Lax' : a.sameSite === 'strict' ? 'Strict' : 'None'}`;
  return s;
}

/**
 * The longest of `domains` that `host` equals or is a subdomain of, on a label boundary (so `evilexample.com`
 * never matches `example.com`). Undefined when none matches: the cookie is then host-only.
 */
export function chooseCookieDomain(host: string | undefined, domains: readonly string[]): string | undefined {
  if (host === undefined || domains.length === 0) return undefined;
  const h = stripPort(host).toLowerCase().replace(/\.$/, '');
  let best: string | undefined;
  for (const entry of domains) {
    const d = entry.toLowerCase().replace(/^\./, '');
    if ((h === d || h.endsWith(`.${d}`)) && (best === undefined || d.length > best.length)) best = d;
  }
  return best;
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Splits a value so that each `name_i=chunk; attributes` fits MAX_COOKIE_BYTES. One element when no split is needed. */
export function splitValue(name: string, value: string, attributes: CookieAttributes): string[] {
  const whole = serializeCookie(name, value, attributes);
  if (whole.length <= MAX_COOKIE_BYTES) return [value];
  const overhead = serializeCookie(`${name}_99`, '', attributes).length;
  const size = MAX_COOKIE_BYTES - overhead;
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += size) chunks.push(value.slice(i, i + size));
  return chunks;
}

/**
 * The value joined from `name_0`, `name_1`, … each sent exactly once; undefined when there is no `name_0`, and
 * SENT_TWICE when any chunk name is sent more than once (two interleaved chunk sets cannot be told apart).
 */
export function joinedChunks(cookies: RequestCookies, name: string): string | undefined | typeof SENT_TWICE {
  let joined: string | undefined;
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const parts = cookies.values(`${name}_${i}`);
    if (parts.length === 0) break;
    if (parts.length > 1) return SENT_TWICE;
    joined = (joined ?? '') + parts[0];
  }
  return joined;
}

/** More chunks than this are never written (nginx's 16k header buffers hold four) nor read. */
export const MAX_CHUNKS = 16;

/** Names of the session cookie and its chunks present in a request. */
export function presentChunkNames(cookies: RequestCookies, name: string): string[] {
  const out: string[] = [];
  const chunk = new RegExp(`^${escapeRegExp(name)}_\\d{1,2}$`);
  for (const n of cookies.names()) if (n === name || chunk.test(n)) out.push(n);
  return out;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
