import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { clientAddress, contentSecurityPolicy, isTrustedProxy, originOf } from './security.ts';
import { escapeHTML, html, raw } from './views/html.ts';
import { stylesheet } from './views/theme.ts';

describe('security helpers', () => {
  it('builds the strict CSP with form targets', () => {
    expect(contentSecurityPolicy(['self', 'https://app.example.com'])).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self' data: https:; form-action 'self' https://app.example.com; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(contentSecurityPolicy([])).toContain("form-action 'self';");
  });

  it('takes only http(s) origins for CSP', () => {
    expect(originOf('https://app.example.com/cb?x=1')).toBe('https://app.example.com');
    expect(originOf('javascript:alert(1)')).toBeUndefined();
    expect(originOf('not a url')).toBeUndefined();
  });

  it('matches trusted proxies by IP and IPv4 CIDR', () => {
    expect(isTrustedProxy('10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(isTrustedProxy('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(isTrustedProxy('11.1.2.3', ['10.0.0.0/8'])).toBe(false);
    expect(isTrustedProxy('192.168.1.1', ['192.168.1.1'])).toBe(true);
    expect(isTrustedProxy('::1', ['::1'])).toBe(true);
    expect(isTrustedProxy('127.0.0.1', [])).toBe(false);
    expect(isTrustedProxy(undefined, ['0.0.0.0/0'])).toBe(false);
    expect(isTrustedProxy('8.8.8.8', ['0.0.0.0/0'])).toBe(true);
  });

  it('matches IPv6 addresses and CIDRs numerically, and IPv4-mapped peers against IPv4 rules', () => {
    expect(isTrustedProxy('fd00::1', ['fd00::/8'])).toBe(true);
    expect(isTrustedProxy('fdff:ffff::9', ['fd00::/8'])).toBe(true);
    expect(isTrustedProxy('fe80::1', ['fd00::/8'])).toBe(false);
    expect(isTrustedProxy('2001:db8::1', ['2001:db8::/32'])).toBe(true);
    expect(isTrustedProxy('2001:db9::1', ['2001:db8::/32'])).toBe(false);
    expect(isTrustedProxy('::1', ['0:0:0:0:0:0:0:1'])).toBe(true);
    expect(isTrustedProxy('0:0:0:0:0:0:0:1', ['::1'])).toBe(true);
    expect(isTrustedProxy('::2', ['::1'])).toBe(false);
    expect(isTrustedProxy('2001:DB8::A', ['2001:db8::a'])).toBe(true);
    expect(isTrustedProxy('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(isTrustedProxy('::FFFF:10.1.2.3', ['10.0.0.1', '10.0.0.0/8'])).toBe(true);
    expect(isTrustedProxy('10.1.2.3', ['::ffff:10.0.0.0/104'])).toBe(true);
    expect(isTrustedProxy('10.1.2.3', ['::ffff:10.1.2.3'])).toBe(true);
    expect(isTrustedProxy('::ffff:11.1.2.3', ['10.0.0.0/8'])).toBe(false);
    // An IPv4 rule never matches an IPv6 peer (and the reverse) beyond the mapped range.
    expect(isTrustedProxy('::a01:203', ['10.0.0.0/8'])).toBe(false);
    expect(isTrustedProxy('10.1.2.3', ['::/0'])).toBe(true); // ::/0 covers ::ffff:0:0/96
    expect(isTrustedProxy('2001:db8::1', ['0.0.0.0/0'])).toBe(false);
    expect(isTrustedProxy('fd00::1', ['::/0'])).toBe(true);
    // Garbage is never trusted, and a bad entry does not poison the others.
    expect(isTrustedProxy('not-an-ip', ['0.0.0.0/0', '::/0'])).toBe(false);
    expect(isTrustedProxy('fe80::1%eth0', ['fe80::/10'])).toBe(true); // a link-local peer's zone is ignored
    expect(isTrustedProxy('10.1.2.3', ['10.0.0.0/99', 'x', '10.0.0.0/8'])).toBe(true);
  });

  it('escapes everything interpolated unless marked raw', () => {
    expect(escapeHTML(`<a href="x" onclick='y'>&\``)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;',
    );
    expect(html`<p>${'<b>'}</p>${raw('<i>ok</i>')}${['<x>', raw('<y>')]}`.html).toBe(
      '<p>&lt;b&gt;</p><i>ok</i>&lt;x&gt;<y>',
    );
  });

  it('only lets plain colour tokens into the stylesheet', () => {
    const css = stylesheet({
      issuer: 'X',
      theme: 'light',
      extra: {},
      colors: { primary: 'red;}body{display:none', background: '#123456' },
    });
    expect(css).not.toContain('display:none');
    expect(css).toContain('--bg:#123456');
  });
});

describe('clientAddress', () => {
  const req = (remoteAddress: string, xff?: string | string[]) =>
    ({
      socket: { remoteAddress },
      headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    }) as unknown as IncomingMessage;
  it('is the peer unless the peer is a trusted proxy', () => {
    expect(clientAddress(req('203.0.113.5', '1.1.1.1'), ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress(req('::ffff:127.0.0.1'), ['127.0.0.1'])).toBe('127.0.0.1');
  });
  it('is the right-most X-Forwarded-For hop that is not a trusted proxy', () => {
    const trusted = ['127.0.0.1', '10.0.0.0/8'];
    expect(clientAddress(req('127.0.0.1', '6.6.6.6, 203.0.113.5'), trusted)).toBe('203.0.113.5');
    expect(clientAddress(req('127.0.0.1', ['6.6.6.6', '203.0.113.5, 10.2.3.4']), trusted)).toBe('203.0.113.5');
    expect(clientAddress(req('127.0.0.1', '10.9.9.9, 10.2.3.4'), trusted)).toBe('10.9.9.9');
    expect(clientAddress(req('127.0.0.1'), trusted)).toBe('127.0.0.1');
  });
  it('walks X-Forwarded-For behind IPv6 proxies', () => {
    const trusted = ['fd00::/8', '::1'];
    expect(clientAddress(req('0:0:0:0:0:0:0:1', '2001:db8::7, fd00::3'), trusted)).toBe('2001:db8::7');
    expect(clientAddress(req('fd12::1', '6.6.6.6, ::ffff:203.0.113.5'), trusted)).toBe('203.0.113.5');
    expect(clientAddress(req('fe80::1', '1.1.1.1'), trusted)).toBe('fe80::1');
  });
});
