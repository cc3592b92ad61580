import { describe, expect, it } from 'vitest';
import { emailDomainAllowed, groupsAllowed, policyAllows, queryPolicy } from './authz.ts';
import { identityFromClaims } from './claims.ts';
import { ForwardedHeaders } from './forwarded.ts';
import type { IncomingMessage } from 'node:http';

describe('email_domains', () => {
  it('matches oauth2-proxy semantics, with exactly one @', () => {
    expect(emailDomainAllowed('a@example.com', ['example.com'])).toBe(true);
    expect(emailDomainAllowed('A@EXAMPLE.COM', ['example.com'])).toBe(true);
    expect(emailDomainAllowed('a@sub.example.com', ['example.com'])).toBe(false);
    expect(emailDomainAllowed('a@sub.example.com', ['.example.com'])).toBe(true);
    expect(emailDomainAllowed('a@sub.example.com', ['*.example.com'])).toBe(true);
    expect(emailDomainAllowed('a@evilexample.com', ['.example.com'])).toBe(false);
    expect(emailDomainAllowed('a@evil.com@example.com', ['example.com'])).toBe(false); // GHSA-c5c4-8r6x-56w3
    expect(emailDomainAllowed('@example.com', ['example.com'])).toBe(false);
    expect(emailDomainAllowed(undefined, ['example.com'])).toBe(false);
    expect(emailDomainAllowed(undefined, ['*'])).toBe(true);
  });

  it('allowed_groups: any one of them', () => {
    expect(groupsAllowed(['a'], [])).toBe(true);
    expect(groupsAllowed(['a', 'b'], ['b', 'c'])).toBe(true);
    expect(groupsAllowed(['a'], ['b'])).toBe(false);
  });

  it('query policy: absent when nothing is constrained', () => {
    expect(queryPolicy('')).toBeUndefined();
    expect(queryPolicy('rd=/x')).toBeUndefined();
    const p = queryPolicy('allowed_email_domains=*.example.com');
    expect(p).toBeDefined();
    expect(policyAllows({ user: 'u', email: 'a@x.example.com', groups: [] }, p!)).toBe(true);
    expect(policyAllows({ user: 'u', email: 'a@example.org', groups: [] }, p!)).toBe(false);
    expect(policyAllows({ user: 'u', groups: [] }, p!)).toBe(false);
  });
});

describe('claims', () => {
  const o = { userIdClaim: 'sub', emailClaim: 'email', groupsClaim: 'groups', allowUnverifiedEmail: false };
  it('takes the user from user_id_claim, falling back to sub when that claim is absent or empty', () => {
    const claims = { sub: 'CiQwOGE4', email: 'a@b.c', email_verified: true, preferred_username: 'john.doe' };
    const byName = identityFromClaims(claims, { ...o, userIdClaim: 'preferred_username' });
    expect(byName.ok && byName.identity.user).toBe('john.doe');
    const bySub = identityFromClaims(claims, o);
    expect(bySub.ok && bySub.identity.user).toBe('CiQwOGE4');
    const missing = identityFromClaims(
      { ...claims, preferred_username: '' },
      { ...o, userIdClaim: 'preferred_username' },
    );
    expect(missing.ok && missing.identity.user).toBe('CiQwOGE4');
    const notAString = identityFromClaims({ ...claims, nick: ['x'] }, { ...o, userIdClaim: 'nick' });
    expect(notAString.ok && notAString.identity.user).toBe('CiQwOGE4');
  });
  it('requires email_verified unless allowed', () => {
    expect(identityFromClaims({ sub: 's', email: 'a@b.c' }, o).ok).toBe(false);
    expect(identityFromClaims({ sub: 's', email: 'a@b.c', email_verified: false }, o).ok).toBe(false);
    expect(identityFromClaims({ sub: 's', email: 'a@b.c', email_verified: 'true' }, o).ok).toBe(false);
    expect(identityFromClaims({ sub: 's', email: 'a@b.c' }, { ...o, allowUnverifiedEmail: true }).ok).toBe(true);
    const r = identityFromClaims(
      { sub: 's', email: 'a@b.c', email_verified: true, groups: ['g', 1, ''], preferred_username: 'p' },
      o,
    );
    expect(r).toEqual({ ok: true, identity: { user: 's', email: 'a@b.c', groups: ['g'], preferredUsername: 'p' } });
  });
  it('needs a subject; reads custom claims', () => {
    expect(identityFromClaims({ email: 'a@b.c', email_verified: true }, o).ok).toBe(false);
    const r = identityFromClaims(
      { sub: 's', mail: 'x@y.z', email_verified: true, roles: 'admin' },
      { ...o, emailClaim: 'mail', groupsClaim: 'roles' },
    );
    expect(r).toEqual({ ok: true, identity: { user: 's', email: 'x@y.z', groups: ['admin'] } });
  });
});

describe('forwarded headers', () => {
  const req = (remoteAddress: string, headers: Record<string, string>) =>
    ({
      socket: { remoteAddress },
      headers,
      headersDistinct: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      url: '/oauth2/auth',
      method: 'GET',
    }) as unknown as IncomingMessage;
  const fwd = {
    host: 'fa',
    'x-forwarded-host': 'app.example.com',
    'x-forwarded-uri': '/x',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '6.6.6.6, 10.0.0.7',
    'x-real-ip': '1.2.3.4',
  };

  it('are ignored unless reverse_proxy is on and the peer is trusted', () => {
    expect(new ForwardedHeaders(false, ['127.0.0.1']).origin(req('127.0.0.1', fwd)).host).toBe('fa');
    expect(new ForwardedHeaders(true, ['127.0.0.1']).origin(req('10.1.1.1', fwd)).uri).toBe('/oauth2/auth');
    const o = new ForwardedHeaders(true, ['127.0.0.1', '10.0.0.0/8']).origin(req('::ffff:10.1.1.1', fwd));
    expect(o).toMatchObject({ host: 'app.example.com', uri: '/x', proto: 'https', clientIP: '1.2.3.4', trusted: true });
    const { 'x-real-ip': _r, ...noReal } = fwd;
    expect(new ForwardedHeaders(true, ['127.0.0.1']).origin(req('127.0.0.1', noReal)).clientIP).toBe('10.0.0.7');
    // ingress-nginx sends X-Original-URL / X-Original-Method.
    const ingress = new ForwardedHeaders(true, ['127.0.0.1']).origin(
      req('127.0.0.1', { 'x-original-url': 'https://app.example.com/p/q?x=1', 'x-original-method': 'post' }),
    );
    expect(ingress).toMatchObject({ uri: '/p/q?x=1', method: 'POST' });
    // From a trusted proxy, our own GET is not the original method, and our own URL not the original URI.
    expect(new ForwardedHeaders(true, ['127.0.0.1']).origin(req('127.0.0.1', fwd)).method).toBeUndefined();
    expect(new ForwardedHeaders(true, ['127.0.0.1']).origin(req('127.0.0.1', {})).uri).toBe('*');
  });
});
