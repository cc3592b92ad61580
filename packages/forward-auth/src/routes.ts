// skip_auth_routes (`METHOD=regex`, `METHOD!=regex`, `regex`, `!=regex`) matched on the path only, and
// api_routes matched on path and query, as oauth2-proxy does since GHSA-7rh7-c77v-6434. Both see the path in
// canonical form; a path that a backend could read as another one (dot segments, encoded separators,
// double encoding) is never skipped.

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

/** Where the path of a request URI ends: at the query or fragment (also a percent-encoded `#`). */
function pathEnd(uri: string): number {
  let end = uri.length;
  for (const sep of ['?', '#', '%23']) {
    const at = uri.indexOf(sep);
    if (at !== -1 && at < end) end = at;
  }
  return end;
}

/** The path of a request URI: query and fragment (also a percent-encoded `#`) removed. */
export function requestPath(uri: string): string {
  return uri.slice(0, pathEnd(uri));
}

const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/**
 * The path in the form route rules are matched against, or undefined when it is ambiguous and must not be
 * skipped: escapes of unreserved characters decoded once (`%2e` is `.`, `%61` is `a`), other escapes
 * upper-cased, `//` collapsed. Undefined for a path that is not absolute, has a `.` or `..` segment (also
 * `..;param`, as Tomcat reads it), an encoded `/` or `\`, a backslash, an encoded `%` (double encoding) or a
 * control character: backends disagree about what those name (nginx passes `$request_uri` unresolved).
 */
export function canonicalPath(rawPath: string): string | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  let bad = false;
  const decoded = rawPath.replace(/%([0-9A-Fa-f]{2})?/g, (_m, hex: string | undefined) => {
    if (hex === undefined) {
      bad = true; // a lone `%`: not a valid escape
      return '%';
    }
    const c = String.fromCharCode(parseInt(hex, 16));
    if (UNRESERVED.test(c)) return c;
    const upper = hex.toUpperCase();
    if (upper === '2F' || upper === '5C' || upper === '25' || parseInt(hex, 16) < 0x20 || upper === '7F') bad = true;
    return `%${upper}`;
  });
  if (bad || /[\\\x00-\x20\x7f]/.test(decoded)) return undefined;
  for (const segment of decoded.split('/')) {
    const name = segment.split(';')[0];
    if (name === '.' || name === '..') return undefined;
  }
  return decoded.replace(/\/{2,}/g, '/');
}

/** Whether a skip_auth_routes rule lets this request through unauthenticated. */
export function routeAllows(rules: readonly RouteRule[], method: string | undefined, uri: string): boolean {
  const path = canonicalPath(requestPath(uri));
  if (path === undefined) return false;
  // A method-restricted rule needs the original method; without one (not sent, or ambiguous) it never matches.
  return rules.some((r) => (r.method === undefined || (method !== undefined && r.method === method)) && r.pattern.test(path) !== r.negate);
}

/** Whether api_routes name this URI (canonical path plus the query as sent). */
export function apiRouteMatches(patterns: readonly RegExp[], uri: string): boolean {
  const end = pathEnd(uri);
  const path = canonicalPath(uri.slice(0, end));
  if (path === undefined) return false;
  const target = `${path}${uri.slice(end)}`;
  return patterns.some((r) => r.test(target));
}
