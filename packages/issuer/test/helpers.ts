/** Shared bits of the issuer integration suites. */
import bcrypt from 'bcryptjs';
import * as client from 'openid-client';
import type { StaticPassword } from '../src/config/types.ts';
import type { RunningIssuer } from '../src/index.ts';
import { CookieJar, login, TEST_CLIENT, type LoginOptions } from '../src/testing/index.ts';

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

export async function discover(issuer: RunningIssuer, id = TEST_CLIENT.id, secret: string | undefined = TEST_CLIENT.secret) {
  return client.discovery(
    new URL(issuer.issuerURL),
    id,
    secret === undefined ? { token_endpoint_auth_method: 'none' } : secret,
    secret === undefined ? client.None() : undefined,
    { execute: [client.allowInsecureRequests] },
  );
}

export interface Authorization {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** Runs the browser part of a code flow with PKCE; returns the callback URL the client receives. */
export async function authorize(
  config: client.Configuration,
  scope: string,
  options: Partial<LoginOptions> & { redirectURI?: string; extra?: Record<string, string>; jar?: CookieJar } = {},
): Promise<Authorization> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const redirect = options.redirectURI ?? REDIRECT;
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.extra,
  });
  const done = await login(options.jar ?? new CookieJar(), url.toString(), { stopAt: redirect, ...options });
  if (!done.location) throw new Error(`login did not reach the client: ${done.status} ${done.body.slice(0, 500)}`);
  return { callback: new URL(done.location), verifier, state, nonce };
}

export async function redeem(config: client.Configuration, a: Authorization) {
  return client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
    idTokenExpected: true,
  });
}

/** POSTs a form to the token endpoint family with HTTP Basic client auth (or none). */
export async function postForm(url: string, form: Record<string, string>, basic?: [string, string]) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
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
