import { describe, expect, it } from 'vitest';
import { apiRouteMatches, parseRouteRule, routeAllows, unambiguousPath } from './route-rules.ts';

describe('unambiguousPath', () => {
  // Accepted paths are returned unchanged: rules match the bytes nginx forwards.
  it.each([
    '/',
    '/public/',
    '/public/x',
    '/public/a%20b',
    '/public/...',
    '/public/.well-known',
    '/public/a..b',
    '/public/caf%C3%A9',
    "/public/a-b_c~d!$&'()*+,=:@",
  ])('%s is read alike by every consumer', (raw) => {
    expect(unambiguousPath(raw)).toBe(raw);
  });

  it.each([
    '/public/../admin',
    '/public/./admin',
    '/public/..',
    '/public/.',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/admin',
    '/public/.%2e/admin',
    '/public/%2e./admin',
    '/public/%2e/admin',
    '/public/..;/admin',
    '/public/..;jsessionid=1/admin',
    '/public/..%2fadmin',
    '/public%2F..%2Fadmin',
    '/public/..%5cadmin',
    '/public/..\\admin',
    '/public\\..\\admin',
    '/public/%252e%252e/admin',
    '/public/%25',
    '/public/%',
    '/public/%zz',
    '/public/%00/x',
    '/public/%0a',
    '/public/\u0000',
    '/public/a b',
    'public/x',
    '*',
    '',
    'http://evil/public/x',
    // Escapes nginx decodes but WHATWG keeps (a rule and the app would see different text).
    '/%70ublic/x',
    '/public/a%2cb',
    '/public/a%2Cb',
    '/public/%c3%a9',
    // `//` anywhere: nginx merges it, WHATWG reads a leading one as a host.
    '//public/x',
    '/public//x',
    // Separators encoded: the decision must not stop or split where a consumer does not.
    '/public/x%23/../../private',
    '/public/x%3F/../../private',
    '/public/x%3B/..',
    // Path parameters (Java servers strip them), overlong UTF-8, split UTF-8, raw non-ASCII.
    '/public/a;b',
    '/public/%C0%AE%C0%AE/x',
    '/public/%C3/%A9',
    '/public/caf\u00e9',
    '/public/a|b',
  ])('%j is refused', (raw) => {
    expect(unambiguousPath(raw)).toBeUndefined();
  });
});

describe('routeAllows', () => {
  const rules = ['GET=^/public/', '^/assets/', '!=^/(admin|api)/', 'POST!=^/upload/'].map(parseRouteRule);
  const only = (...i: number[]) => i.map((n) => rules[n]!);

  it('method rules match only the method the trusted proxy named', () => {
    expect(routeAllows(only(0), 'GET', '/public/x')).toBe(true);
    expect(routeAllows(only(0), 'POST', '/public/x')).toBe(false);
    // No method (not sent or ambiguous): a method-restricted rule never matches.
    expect(routeAllows(only(0), undefined, '/public/x')).toBe(false);
    expect(routeAllows(only(3), undefined, '/other')).toBe(false);
    expect(routeAllows(only(1), undefined, '/assets/a.css')).toBe(true);
  });

  it('hostile paths are never skipped, also by negated rules', () => {
    for (const uri of [
      '/public/../admin',
      '/public/%2e%2e/admin',
      '/assets/..%2fadmin',
      '/x/../admin/',
      '/x/%2e%2e/admin/',
      '*',
    ]) {
      expect(routeAllows(rules, 'GET', uri), uri).toBe(false);
    }
    // A negated rule sees the canonical path: `//admin/` and `/%61dmin/` are /admin/.
    expect(routeAllows(only(2), 'GET', '//admin/x')).toBe(false);
    expect(routeAllows(only(2), 'GET', '/%61dmin/x')).toBe(false);
    expect(routeAllows(only(2), 'GET', '/home')).toBe(true);
  });

  it('matches the path only, not the query or an encoded fragment', () => {
    expect(routeAllows(only(0), 'GET', '/private?next=/public/x')).toBe(false);
    expect(routeAllows(only(0), 'GET', '/private%23/public/x')).toBe(false);
    expect(routeAllows(only(0), 'GET', '/public/x?a=../../admin')).toBe(true);
  });

  it('decides on the bytes nginx forwards: the path ends only at a raw ?', () => {
    // Issue 11: the decision stopped at the encoded `#`, the app resolved the `..` after it.
    expect(routeAllows(only(0), 'GET', '/public/x%23/../../private')).toBe(false);
    // Issue 11: `//` was collapsed for the decision; WHATWG reads host `public`, path /admin/secret.
    expect(routeAllows(only(0), 'GET', '//public/admin/secret')).toBe(false);
    expect(routeAllows(only(0), 'GET', '/public/x#/../../private')).toBe(false);
    expect(routeAllows(only(0), 'GET', '/public/x?y#z')).toBe(false);
  });
});

describe('apiRouteMatches', () => {
  it('matches the canonical path and the query; hostile paths never match', () => {
    const api = [/^\/api\//];
    expect(apiRouteMatches(api, '/api/v1?x=1')).toBe(true);
    expect(apiRouteMatches(api, '//api/v1')).toBe(false);
    expect(apiRouteMatches(api, '/api/x%23/../../admin')).toBe(false);
    expect(apiRouteMatches(api, '/api/../admin')).toBe(false);
    expect(apiRouteMatches([/\?format=json/], '/x?format=json')).toBe(true);
  });
});
