/**
 * `@gatehouse/forward-auth/testing`: helpers for e2e suites and benches.
 *
 * ```ts
 * const fa = await startForwardAuth({ config: forwardAuthTestConfig({ issuerURL, port }) });
 * const cookie = sealTestSession(fa.handler, { user: 'u1', email: 'jane@example.com', groups: ['devs'] });
 * await fetch(`${fa.url}/oauth2/auth`, { headers: { cookie } }); // 202 + X-Auth-Request-*
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { ForwardAuthHandler } from '../router.ts';

export interface TestConfigOptions {
  /** The issuer URL (`oidc_issuer_url`). */
  readonly issuerURL: string;
  /** Listen port; the callback is http://127.0.0.1:<port>/oauth2/callback. Use a port from getFreePort(). */
  readonly port: number;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Extra options (oauth2-proxy names), applied last. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** A complete configuration for loopback tests: plain-HTTP cookies, identity headers on, any email domain. */
export function forwardAuthTestConfig(o: TestConfigOptions): Record<string, unknown> {
  return {
    http_address: `127.0.0.1:${o.port}`,
    oidc_issuer_url: o.issuerURL,
    client_id: o.clientId ?? 'oauth2-proxy',
    client_secret: o.clientSecret ?? 'oauth2-proxy-test-secret',
    redirect_url: `http://127.0.0.1:${o.port}/oauth2/callback`,
    cookie_secret: randomBytes(32).toString('base64'),
    cookie_secure: false,
    email_domains: ['*'],
    set_xauthrequest: true,
    scope: 'openid email profile groups offline_access',
    log_level: 'silent',
    ...o.extra,
  };
}

export interface TestIdentity {
  readonly user: string;
  readonly email?: string;
  readonly preferredUsername?: string;
  readonly groups?: readonly string[];
}

/** A `Cookie` header carrying a session sealed with this handler's keys (valid for `ttlMs`, default 1h). */
export function sealTestSession(handler: ForwardAuthHandler, id: TestIdentity, ttlMs = 3_600_000): string {
  const now = Date.now();
  const sealed = handler.context.sessions.seal(
    {
      user: id.user,
      groups: id.groups ?? [],
      createdAt: now,
      expiresAt: now + ttlMs,
      ...(id.email === undefined ? {} : { email: id.email }),
      ...(id.preferredUsername === undefined ? {} : { preferredUsername: id.preferredUsername }),
    },
    undefined,
    undefined,
  );
  return sealed.setCookie.map((c) => c.split(';')[0]).join('; ');
}
