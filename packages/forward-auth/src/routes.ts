// skip_auth_routes (`METHOD=regex`, `METHOD!=regex`, `regex`, `!=regex`) matched on the path only, and
// api_routes matched on path and query, as oauth2-proxy does since GHSA-7rh7-c77v-6434.

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

/** The path of a request URI: query and fragment (also a percent-encoded `#`) removed. */
export function requestPath(uri: string): string {
  let end = uri.length;
  for (const sep of ['?', '#', '%23']) {
    const at = uri.indexOf(sep);
    if (at !== -1 && at < end) end = at;
  }
  return uri.slice(0, end);
}

export function routeAllows(rules: readonly RouteRule[], method: string, uri: string): boolean {
  const path = requestPath(uri);
  return rules.some((r) => (r.method === undefined || r.method === method) && r.pattern.test(path) !== r.negate);
}
