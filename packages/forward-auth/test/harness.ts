// A real issuer (@gatehouse/issuer/testing, mockCallback connector) and forward-auth instances in front of it.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import {
  CookieJar,
  TEST_CLIENT,
  browse,
  startTestIssuer,
  type BrowseResult,
  type StartTestIssuerOptions,
} from '@gatehouse/issuer/testing';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startForwardAuth, type RunningForwardAuth } from '../src/index.ts';

export type RunningIssuer = Awaited<ReturnType<typeof startTestIssuer>>;

export interface Harness {
  readonly issuer: RunningIssuer;
  readonly fa: RunningForwardAuth;
  readonly secret: string;
  /** Token-endpoint calls forward-auth made, by grant_type. */
  readonly tokenCalls: string[];
  /** Grants the issuer completed, by grant_type (oidc-provider's grant.success events). */
  readonly issuerGrants: string[];
  readonly config: Record<string, unknown>;
  /** Another forward-auth on the same issuer and client, e.g. with another secret. */
  another(extra: Record<string, unknown>): Promise<RunningForwardAuth>;
  close(): Promise<void>;
}

export async function startHarness(
  extra: Record<string, unknown> = {},
  issuerOptions: Omit<StartTestIssuerOptions, 'staticClients'> = {},
): Promise<Harness> {
  const port = await getFreePort();
  const origin = `http://127.0.0.1:${port}`;
  const issuer = await startTestIssuer({
    ...issuerOptions,
    staticClients: [
      {
        ...TEST_CLIENT,
        id: 'oauth2-proxy',
        redirectURIs: [`${origin}/oauth2/callback`],
        postLogoutRedirectURIs: [`${origin}/oauth2/sign_out/done`],
      },
    ],
  });
  const tokenCalls: string[] = [];
  const issuerGrants: string[] = [];
  issuer.provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: unknown } } }) => {
    issuerGrants.push(String(ctx.oidc.params?.grant_type));
  });
  const countingFetch: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.endsWith('/token')) tokenCalls.push(new URLSearchParams(String(init?.body ?? '')).get('grant_type') ?? '?');
    return fetch(input, init);
  };
  const secret = randomBytes(32).toString('base64');
  const config = {
    http_address: `127.0.0.1:${port}`,
    oidc_issuer_url: issuer.issuerURL,
    client_id: 'oauth2-proxy',
    client_secret: TEST_CLIENT.secret,
    redirect_url: `${origin}/oauth2/callback`,
    cookie_secret: secret,
    cookie_secure: false,
    email_domains: ['*'],
    set_xauthrequest: true,
    scope: 'openid email profile groups offline_access',
    ...extra,
  };
  const logger = pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' });
  const fa = await startForwardAuth({ config, logger, fetch: countingFetch });
  const others: RunningForwardAuth[] = [];
  return {
    issuer,
    fa,
    secret,
    tokenCalls,
    issuerGrants,
    config,
    async another(more) {
      const other = await startForwardAuth({ config: { ...config, http_address: '127.0.0.1:0', ...more }, logger });
      others.push(other);
      return other;
    },
    async close() {
      for (const o of others) await o.close();
      await fa.close();
      await issuer.close();
    },
  };
}

/** Follows /oauth2/start through the issuer (mockCallback) and stops at our callback: its URL carries code+state. */
export async function toCallback(
  h: Harness,
  jar: CookieJar,
  rd = '/app',
): Promise<{ start: Response; callbackURL: string }> {
  const startURL = `${h.fa.url}/oauth2/start?rd=${encodeURIComponent(rd)}`;
  const first = await fetch(startURL, { redirect: 'manual', headers: { cookie: jar.header(startURL) } });
  jar.store(startURL, first);
  const location = first.headers.get('location');
  if (first.status !== 302 || location === null) throw new Error(`/oauth2/start answered ${first.status}`);
  const r = await browse(jar, location, { stopAt: `${h.fa.url}/oauth2/callback` });
  if (r.location === undefined) throw new Error(`login stopped at ${r.url} (${r.status})`);
  return { start: first, callbackURL: r.location };
}

/** A complete sign-in; returns the callback's answer (302 to rd with the session cookie). */
export async function signIn(h: Harness, jar: CookieJar, rd = '/app'): Promise<BrowseResult> {
  const { callbackURL } = await toCallback(h, jar, rd);
  return browse(jar, callbackURL, { stopAt: rd.startsWith('/') ? `${h.fa.url}${rd}` : rd, maxRedirects: 0 });
}

/** GET /oauth2/auth the way nginx does: only the Cookie header of the browser. */
export function authCheck(
  h: Harness | RunningForwardAuth,
  cookie: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const url = 'fa' in h ? h.fa.url : h.url;
  return fetch(`${url}/oauth2/auth`, { headers: { cookie, ...headers } });
}
