import { describe, expect, it } from 'vitest';
import {
  MAX_COOKIE_BYTES,
  RequestCookies,
  SENT_TWICE,
  chooseCookieDomain,
  findCookie,
  joinedChunks,
  parseCookies,
  requestCookieHeader,
  serializeCookie,
  splitValue,
} from './cookies.ts';

const attrs = {
  path: '/',
  domain: 'example.com',
  secure: true,
  httpOnly: true,
  sameSite: 'lax',
  maxAge: 3600,
} as const;

describe('cookie helpers', () => {
  it('parses a Cookie header; the first occurrence wins', () => {
    const m = parseCookies('a=1; b="2"; a=3;c=4 ; junk; =x');
    expect([...m]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', '4'],
    ]);
  });

  it('finds one cookie on a name boundary only', () => {
    expect(findCookie('x_oauth2_proxy=bad; _oauth2_proxy=good', '_oauth2_proxy')).toBe('good');
    expect(findCookie('_oauth2_proxy_0=chunk', '_oauth2_proxy')).toBeUndefined();
    expect(findCookie('_oauth2_proxy=v', '_oauth2_proxy')).toBe('v');
    expect(findCookie('a=1;_oauth2_proxy=v;b=2', '_oauth2_proxy')).toBe('v');
    expect(findCookie('', '_oauth2_proxy')).toBeUndefined();
  });

  it('only ";" separates pairs: a name inside another cookie\'s value is no cookie', () => {
    expect(findCookie('pref=x _oauth2_proxy=attacker; _oauth2_proxy=victim', '_oauth2_proxy')).toBe('victim');
    expect(findCookie('pref=x _oauth2_proxy=attacker', '_oauth2_proxy')).toBeUndefined();
    expect(findCookie('pref=x,_oauth2_proxy=attacker', '_oauth2_proxy')).toBeUndefined();
    expect(findCookie('pref="x; _oauth2_proxy=v"', '_oauth2_proxy')).toBe('v"'); // quotes do not protect ";" (RFC 6265)
    expect(findCookie(' \t_oauth2_proxy \t= \t"v" \t;b=2', '_oauth2_proxy')).toBe('v');
    expect(RequestCookies.parse('pref=x _oauth2_proxy=a; b=2').values('pref')).toEqual(['x _oauth2_proxy=a']);
  });

  it('reports a name sent twice instead of picking one by position', () => {
    expect(findCookie('_oauth2_proxy=a; x=1; _oauth2_proxy=b', '_oauth2_proxy')).toBe(SENT_TWICE);
    const c = RequestCookies.parse('_oauth2_proxy=a; x=1; _oauth2_proxy=b');
    expect(c.values('_oauth2_proxy')).toEqual(['a', 'b']);
    expect(c.unique('_oauth2_proxy')).toBeUndefined();
    expect(c.unique('x')).toBe('1');
    expect(joinedChunks(RequestCookies.parse('n_0=a; n_1=b; n_0=c'), 'n')).toBe(SENT_TWICE);
  });

  it('reads the Cookie header from rawHeaders, joining repeated lines', () => {
    expect(requestCookieHeader({ rawHeaders: ['Host', 'x', 'COOKIE', 'a=1', 'X-Cookie', 'no', 'cookie', 'b=2'] })).toBe(
      'a=1; b=2',
    );
    expect(requestCookieHeader({ rawHeaders: ['Host', 'x'] })).toBeUndefined();
  });

  it('serialises attributes, and clears with Max-Age=0', () => {
    expect(serializeCookie('n', 'v', attrs)).toBe(
      'n=v; Path=/; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=Lax',
    );
    expect(serializeCookie('n', '', { ...attrs, maxAge: 0 })).toContain('Max-Age=0');
  });

  it('chooses the longest cookie domain on a label boundary', () => {
    const domains = ['example.com', 'apps.example.com', '.other.org'];
    expect(chooseCookieDomain('x.apps.example.com', domains)).toBe('apps.example.com');
    expect(chooseCookieDomain('example.com:8443', domains)).toBe('example.com');
    expect(chooseCookieDomain('a.other.org', domains)).toBe('other.org');
    expect(chooseCookieDomain('evilexample.com', domains)).toBeUndefined();
    expect(chooseCookieDomain('example.com.evil.net', domains)).toBeUndefined();
    expect(chooseCookieDomain(undefined, domains)).toBeUndefined();
  });

  it('splits large values into chunks that fit and joins them back', () => {
    const value = 'v'.repeat(10_000);
    const chunks = splitValue('_oauth2_proxy', value, attrs);
    expect(chunks.length).toBe(3);
    chunks.forEach((c, i) =>
      expect(serializeCookie(`_oauth2_proxy_${i}`, c, attrs).length).toBeLessThanOrEqual(MAX_COOKIE_BYTES),
    );
    const jar = RequestCookies.parse(chunks.map((c, i) => `_oauth2_proxy_${i}=${c}`).join('; '));
    expect(joinedChunks(jar, '_oauth2_proxy')).toBe(value);
    expect(splitValue('_oauth2_proxy', 'small', attrs)).toEqual(['small']);
  });
});
