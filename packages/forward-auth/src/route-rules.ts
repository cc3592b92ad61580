// skip_auth_routes (`METHOD=regex`, `METHOD!=regex`, `regex`, `!=regex`) matched on the path only, and
// api_routes matched on path and query, as oauth2-proxy does since GHSA-7rh7-c77v-6434.
//
// The decision is made on exactly the bytes nginx forwards (X-Forwarded-Uri = `$request_uri`), never on a
// decoded or normalised copy: only a raw `?` ends the path. A path that some consumer could read as another
// one is never skipped (auth is required), because the consumers disagree: nginx's `proxy_pass http://app/;`
// decodes `%XX`, resolves dot segments, merges `//` and re-encodes; WHATWG (`new URL(req.url, base)`) resolves
// `.`/`..` and `%2e` but keeps other escapes, reads a leading `//` as a host and `\` as `/`; Java servers strip
// `;params`; some frameworks decode twice. So the path must be in the one form every consumer reads alike.

export interface RouteRule {
  readonly method: string | undefined;
  readonly negate: boolean;
  readonly pattern: RegExp;
}

export function parseRouteRule(entry: string): RouteRule {
  const m = /^([A-Z]+)?(!?=)(.*)$/.exec(entry);
  if (m !== null && (m[1] !== undefined || m[2] === '!=')) {
    return { method: m[1], negate: m[2] === '!=', pattern: new RegExp(m[3] as string) };
  }
  return { method: undefined, negate: false, pattern: new RegExp(entry) };
}

/** A request URI split at its first raw `?` (the only byte that ends a path). */
export function splitURI(uri: string): { path: string; query: string } {
  const at = uri.indexOf('?');
  return at === -1 ? { path: uri, query: '' } : { path: uri.slice(0, at), query: uri.slice(at) };
}

// Raw path bytes every consumer reads as themselves: RFC 3986 pchar minus `;` (path parameters, which Java
// servers strip) and `%` (escapes, checked apart). Anything else (`\`, `#`, space, controls, `"<>[]^\`{|}`,
// non-ASCII) is read differently by someone: WHATWG turns `\` into `/`, `#` starts a fragment, and so on.
const RAW_PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;

/**
 * Escapes that are the only spelling of their byte: upper-case hex of a byte that may not appear raw and is
 * not a separator. Refused: escapes of bytes that may appear raw (`%61`, `%2E`, `%2C`: nginx decodes them,
 * WHATWG keeps them, so a rule and the app would see different text), `%2F %5C %23 %3F %25 %3B` (separators
 * and double encoding), controls, lower-case hex (nginx re-encodes upper-case), and non-ASCII bytes that are
 * not valid UTF-8 (overlong forms such as `%C0%AE`).
 */
function canonicalEscape(hex: string): boolean {
  if (hex !== hex.toUpperCase()) return false;
  const byte = parseInt(hex, 16);
  if (byte >= 0x80) return true; // checked as UTF-8 below
  if (byte < 0x21 || byte === 0x7f) return byte === 0x20;
  const c = String.fromCharCode(byte);
  return !RAW_PCHAR.test(c) && !'/\\#?%;'.includes(c);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The path (before the first raw `?`) when every consumer reads it as the same path, else undefined (never
 * skipped): absolute, no empty segment (`//`, also leading), no `.`/`..` segment, only RAW_PCHAR bytes and
 * canonical escapes whose non-ASCII bytes are valid UTF-8. The result is the input, unchanged: rules match
 * the bytes nginx forwards.
 */
export function unambiguousPath(rawPath: string): string | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  const highBytes: number[] = [];
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i] as string;
    if (c === '/') {
      if (!flushUTF8(highBytes)) return undefined;
      continue;
    }
    if (c === '%') {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex) || !canonicalEscape(hex)) return undefined;
      const byte = parseInt(hex, 16);
      if (byte >= 0x80) highBytes.push(byte);
      else if (!flushUTF8(highBytes)) return undefined;
      i += 2;
      continue;
    }
    if (!RAW_PCHAR.test(c) || !flushUTF8(highBytes)) return undefined;
  }
  if (!flushUTF8(highBytes)) return undefined;
  const segments = rawPath.slice(1).split('/');
  for (const [i, segment] of segments.entries()) {
    // Only the last segment may be empty (`/public/`): `//` anywhere is refused.
    if (segment === '' && i !== segments.length - 1) return undefined;
    if (segment === '.' || segment === '..') return undefined;
  }
  return rawPath;
}

/** Whether the pending escaped non-ASCII bytes form valid UTF-8 (and clears them). */
function flushUTF8(bytes: number[]): boolean {
  if (bytes.length === 0) return true;
  try {
    UTF8.decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  } finally {
    bytes.length = 0;
  }
}

/** Whether a skip_auth_routes rule lets this request through unauthenticated. */
export function routeAllows(rules: readonly RouteRule[], method: string | undefined, uri: string): boolean {
  if (uri.includes('#')) return false; // a raw `#`: nginx and the app disagree on where the URI ends
  const path = unambiguousPath(splitURI(uri).path);
  if (path === undefined) return false;
  // A method-restricted rule needs the original method; without one (not sent, or ambiguous) it never matches.
  return rules.some(
    (r) =>
      (r.method === undefined || (method !== undefined && r.method === method)) && r.pattern.test(path) !== r.negate,
  );
}

/** Whether api_routes name this URI (the unambiguous path plus the query, both as sent). */
export function apiRouteMatches(patterns: readonly RegExp[], uri: string): boolean {
  if (uri.includes('#')) return false;
  const { path, query } = splitURI(uri);
  if (unambiguousPath(path) === undefined) return false;
  return patterns.some((r) => r.test(`${path}${query}`));
}
