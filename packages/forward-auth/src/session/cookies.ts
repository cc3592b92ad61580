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
    if (name.length === 6 && name.toLowerCase() === 'cookie') out = out === undefined ? raw[i + 1] : `${out}; ${raw[i + 1]}`;
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

/** All cookies of a Cookie header; the first occurrence of a name wins (the browser sends the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined || header === '') return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

/**
 * The value of one cookie without building a map: the hot path of /oauth2/auth. Returns undefined when absent.
 */
export function findCookie(header: string, name: string): string | undefined {
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at === -1) return undefined;
    const end = at + name.length;
    const boundaryBefore = at === 0 || header.charCodeAt(at - 1) === 0x20 || header.charCodeAt(at - 1) === 0x3b;
    if (boundaryBefore && header.charCodeAt(end) === 0x3d /* = */) {
      const semi = header.indexOf(';', end + 1);
      return header.slice(end + 1, semi === -1 ? undefined : semi).trim();
    }
    from = end;
  }
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

/** The value stored under `name`, or joined from `name_0`, `name_1`, … */
export function joinedValue(cookies: ReadonlyMap<string, string>, name: string): string | undefined {
  const whole = cookies.get(name);
  if (whole !== undefined) return whole;
  let joined: string | undefined;
  for (let i = 0; i < 64; i++) {
    const part = cookies.get(`${name}_${i}`);
    if (part === undefined) break;
    joined = (joined ?? '') + part;
  }
  return joined;
}

/** Names of the session cookie and its chunks present in a request. */
export function presentChunkNames(cookies: ReadonlyMap<string, string>, name: string): string[] {
  const out: string[] = [];
  const chunk = new RegExp(`^${escapeRegExp(name)}_\\d+$`);
  for (const n of cookies.keys()) if (n === name || chunk.test(n)) out.push(n);
  return out;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
