import { describe, expect, it } from 'vitest';
import { apiRouteMatches, canonicalPath, parseRouteRule, routeAllows } from './routes.ts';

describe('canonicalPath', () => {
  it.each([
    ['/public/x', '/public/x'],
    ['/%70ublic/x', '/public/x'],
    ['/public//x', '/public/x'],
    ['//public/x', '/public/x'],
    ['/public/a%20b', '/public/a%20b'],
    ['/public/a%2cb', '/public/a%2Cb'],
    ['/public/...', '/public/...'],
    ['/public/.well-known', '/public/.well-known'],
    ['/public/a..b', '/public/a..b'],
  ])('%s → %s', (raw, canonical) => {
    expect(canonicalPath(raw)).toBe(canonical);
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
  ])('%j is refused', (raw) => {
    expect(canonicalPath(raw)).toBeUndefined();
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
    for (const uri of ['/public/../admin', '/public/%2e%2e/admin', '/assets/..%2fadmin', '/x/../admin/', '/x/%2e%2e/admin/', '*']) {
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
});

describe('apiRouteMatches', () => {
  it('matches the canonical path and the query; hostile paths never match', () => {
    const api = [/^\/api\//];
    expect(apiRouteMatches(api, '/api/v1?x=1')).toBe(true);
    expect(apiRouteMatches(api, '//api/v1')).toBe(true);
    expect(apiRouteMatches(api, '/api/../admin')).toBe(false);
    expect(apiRouteMatches([/\?format=json/], '/x?format=json')).toBe(true);
  });
});
