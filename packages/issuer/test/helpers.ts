/** Shared bits of the issuer integration suites. */
import bcrypt from 'bcryptjs';
import * as client from 'openid-client';
import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';
import {
  CONNECTOR_KIT_VERSION,
  type CallbackConnector,
  type ConnectorFactory,
  type RefreshConnector,
} from '@gatehouse/connector-kit';
import { configDefaults } from '../src/config/index.ts';
import type { ExpiryConfig, IssuerConfig, StaticPassword } from '../src/config/types.ts';
import type { RunningIssuer } from '../src/index.ts';
import {
  type BrowseResult,
  CookieJar,
  login,
  startTestIssuer,
  TEST_CLIENT,
  testOAuth2,
  type LoginOptions,
  type StartTestIssuerOptions,
} from '../src/testing/index.ts';

export const REDIRECT = TEST_CLIENT.redirectURIs[0]!;

export const ALICE_PASSWORD = 'correct horse battery staple';
export const ALICE: StaticPassword = {
  email: 'alice@example.com',
  hash: bcrypt.hashSync(ALICE_PASSWORD, 10),
  username: 'alice',
  userID: 'alice-0001',
  emailVerified: true,
  groups: ['admins'],
};

/** `TEST_CLIENT`'s HTTP Basic credentials, as `postForm` takes them. */
export const TEST_BASIC: [string, string] = [TEST_CLIENT.id, TEST_CLIENT.secret!];

/** Overrides for the local password DB (ALICE) and the password grant through it. */
export function passwordGrantOverrides(): Partial<IssuerConfig> {
  return {
    enablePasswordDB: true,
    staticPasswords: [ALICE],
    oauth2: testOAuth2({ grantTypes: ['authorization_code', 'refresh_token', 'password'], passwordConnector: 'local' }),
  };
}

/**
 * A short `expiry` section (1h tokens, 10m logins and codes) with the refresh policy under test;
 * by default rotation on, no reuse window, 1d absolute and 1h idle lifetime.
 */
export function shortExpiry(
  refreshTokens: Partial<ExpiryConfig['refreshTokens']>,
  expiry: Partial<Omit<ExpiryConfig, 'refreshTokens'>> = {},
): ExpiryConfig {
  return {
    ...configDefaults().expiry,
    idTokens: 3600,
    authRequests: 600,
    ...expiry,
    refreshTokens: {
      disableRotation: false,
      reuseInterval: 0,
      absoluteLifetime: 86400,
      validIfNotUsedFor: 3600,
      ...refreshTokens,
    },
  };
}

/** An openid-client configuration for client `id`: confidential with `secret`, public (no client auth) with `null`. */
/**
 * A callback connector factory of `type` whose "upstream" sends the browser straight back to the
 * issuer's callback with the state; `handlers` answer that callback (and refresh, when given).
 */
export function bouncingCallbackFactory(
  type: string,
  handlers: Pick<CallbackConnector, 'handleCallback'> & Partial<RefreshConnector>,
): ConnectorFactory {
  return {
    type,
    kitVersion: CONNECTOR_KIT_VERSION,
    configSchema: z.strictObject({}),
    open: () => ({
      kind: 'callback',
      async loginURL(_scopes, callbackURL, state) {
        const url = new URL(callbackURL);
        url.searchParams.set('state', state);
        return { url: url.toString(), keep: { state } };
      },
      ...handlers,
    }),
  };
}

export async function discover(
  issuer: RunningIssuer,
  id = TEST_CLIENT.id,
  secret: string | null = TEST_CLIENT.secret!,
) {
  return client.discovery(
    new URL(issuer.issuerURL),
    id,
    secret === null ? { token_endpoint_auth_method: 'none' } : secret,
    secret === null ? client.None() : undefined,
    { execute: [client.allowInsecureRequests] },
  );
}

export interface IssuerAndRP {
  issuer: RunningIssuer;
  /** The relying party's openid-client configuration. */
  config: client.Configuration;
}

/**
 * Around a describe block: a test issuer started with `options` before its tests (closed after
 * them) and a relying party for client `id` (see `discover`). Read the fields inside tests.
 */
export function useIssuer(options: StartTestIssuerOptions = {}, id?: string, secret?: string | null): IssuerAndRP {
  const env = {} as IssuerAndRP;
  beforeAll(async () => {
    env.issuer = await startTestIssuer(options);
    env.config = await discover(env.issuer, id, secret);
  });
  afterAll(async () => {
    await env.issuer?.close();
  });
  return env;
}

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export interface Authorization {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** Where a login stopped instead of reaching the client (an error page, a form with an error). */
export interface Stopped {
  status: number;
  body: string;
}

export type Outcome = Authorization | Stopped;

export const isAuthorization = (o: Outcome): o is Authorization => 'callback' in o;

export interface RequestOptions {
  /** Default: `TEST_CLIENT`'s redirect URI. */
  redirectURI?: string;
  /** More authorization parameters; they replace the generated ones (e.g. a fixed `state`). */
  extra?: Record<string, string>;
}

/** An authorization URL with PKCE (S256), a random state and nonce. */
export async function authorizationRequest(
  config: client.Configuration,
  scope: string,
  options: RequestOptions = {},
): Promise<AuthorizationRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = options.extra?.state ?? client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectURI ?? REDIRECT,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.extra,
  });
  return { url, verifier, state, nonce };
}

/** The outcome of a login for `request` whose last step is `done`. */
export function outcome(request: AuthorizationRequest, done: BrowseResult): Outcome {
  if (!done.location) return { status: done.status, body: done.body };
  return { callback: new URL(done.location), verifier: request.verifier, state: request.state, nonce: request.nonce };
}

export type AuthorizeOptions = Partial<LoginOptions> & RequestOptions & { jar?: CookieJar };

/** Runs the browser part of a code flow with PKCE; returns the callback or where the login stopped. */
export async function tryAuthorize(
  config: client.Configuration,
  scope: string,
  options: AuthorizeOptions = {},
): Promise<Outcome> {
  const request = await authorizationRequest(config, scope, options);
  const redirect = options.redirectURI ?? REDIRECT;
  return outcome(
    request,
    await login(options.jar ?? new CookieJar(), request.url.toString(), { stopAt: redirect, ...options }),
  );
}

/** Runs the browser part of a code flow with PKCE; returns the callback URL the client receives. */
export async function authorize(
  config: client.Configuration,
  scope: string,
  options: AuthorizeOptions = {},
): Promise<Authorization> {
  const o = await tryAuthorize(config, scope, options);
  if (!isAuthorization(o)) throw new Error(`login did not reach the client: ${o.status} ${o.body.slice(0, 500)}`);
  return o;
}

export async function redeem(config: client.Configuration, a: Authorization) {
  return client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
    idTokenExpected: true,
  });
}

/** POSTs a form to the token endpoint family with HTTP Basic client auth (or none) and any more headers. */
export async function postForm(
  url: string,
  form: Record<string, string>,
  basic?: [string, string],
  extraHeaders: Record<string, string> = {},
) {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...extraHeaders,
  };
  if (basic)
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
