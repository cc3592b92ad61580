import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger, expectConnectorError, runConnectorConformance } from '@gatehouse/connector-kit/testing';
import type { CallbackConnector, CallbackRequest, Connector } from '@gatehouse/connector-kit';
import { loopbackServer } from './loopback-server.ts';
import { factory } from '../examples/oauth-callback/index.ts';

/**
 * A small OAuth 2.0 upstream, the example connector's: the authorize endpoint signs the test user
 * in at once; codes are single-use and bound to their PKCE challenge and redirect URI; refresh
 * tokens rotate and are single-use.
 */
interface User {
  sub: string;
  preferred_username: string;
  name: string;
  email: string;
  groups: string[];
}
const CLIENT = { id: 'example-client', secret: 'example-secret-never-logged' };
const ada: User = {
  sub: 'u-1001',
  preferred_username: 'ada',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  groups: ['admins'],
};
const users = new Map<string, User>([[ada.sub, ada]]);
const codes = new Map<string, { sub: string; challenge: string; redirectURI: string }>();
const accessTokens = new Map<string, string>();
const refreshTokens = new Map<string, string>();
const tokenPosts: string[] = [];
let mode: 'ok' | 'token503' | 'hang' = 'ok';

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const token = () => randomBytes(16).toString('base64url');

function issue(res: ServerResponse, sub: string): void {
  const access = token();
  const refresh = token();
  accessTokens.set(access, sub);
  refreshTokens.set(refresh, sub);
  json(res, 200, { access_token: access, token_type: 'Bearer', refresh_token: refresh, expires_in: 3600 });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://upstream.test');
  if (url.pathname === '/authorize') {
    const q = url.searchParams;
    if (q.get('client_id') !== CLIENT.id || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
      return void res.writeHead(400).end();
    const code = token();
    codes.set(code, {
      sub: ada.sub,
      challenge: q.get('code_challenge') ?? '',
      redirectURI: q.get('redirect_uri') ?? '',
    });
    const back = new URL(q.get('redirect_uri') ?? '');
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state') ?? '');
    return void res.writeHead(302, { location: back.href }).end();
  }
  if (mode === 'hang') return;
  if (url.pathname === '/token') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      tokenPosts.push(body);
      if (mode === 'token503') return json(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '7' });
      if (req.headers.authorization !== `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`)
        return json(res, 401, { error: 'invalid_client' });
      const form = new URLSearchParams(body);
      if (form.get('grant_type') === 'authorization_code') {
        const issued = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const challenge = createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url');
        if (!issued || issued.challenge !== challenge || issued.redirectURI !== form.get('redirect_uri'))
          return json(res, 400, { error: 'invalid_grant' });
        return issue(res, issued.sub);
      }
      if (form.get('grant_type') === 'refresh_token') {
        const sub = refreshTokens.get(form.get('refresh_token') ?? '');
        refreshTokens.delete(form.get('refresh_token') ?? '');
        if (sub === undefined || !users.has(sub)) return json(res, 400, { error: 'invalid_grant' });
        return issue(res, sub);
      }
      json(res, 400, { error: 'unsupported_grant_type' });
    });
    return;
  }
  if (url.pathname === '/userinfo') {
    const sub = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const user = sub === undefined ? undefined : users.get(sub);
    if (!user) return json(res, 401, { error: 'invalid_token' });
    return json(res, 200, { ...user, email_verified: true });
  }
  json(res, 404, { error: 'not_found' });
}

const upstream = loopbackServer(handle);

/** The browser at the upstream: follow the authorize URL to the redirect back to the issuer. */
async function driveLogin(loginURL: string): Promise<CallbackRequest> {
  const response = await fetch(loginURL, { redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status !== 302 || location === null) throw new Error(`authorize answered ${response.status}`);
  return { url: new URL(location), method: 'GET' };
}

beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

const config = () => ({
  url: `http://127.0.0.1:${upstream.port}`,
  clientID: CLIENT.id,
  clientSecret: CLIENT.secret,
  timeoutMs: 1000,
});

runConnectorConformance({
  name: 'example-oauth-callback',
  factory,
  config,
  invalidConfigs: [
    { config: { clientID: 'x', clientSecret: 'y' }, path: 'url' },
    { config: { url: 'http://upstream.example', clientID: 'x', clientSecret: 'y' }, path: 'url' },
    { config: { url: 'https://upstream.example', clientSecret: 'y' }, path: 'clientID' },
    { config: { url: 'https://upstream.example', clientID: 'x', clientSecret: 'y', extra: 1 }, path: '' },
  ],
  callback: { driveLogin },
  identity: {
    expectGroups: true,
    check: (identity) => {
      expect(identity).toMatchObject({
        userId: 'u-1001',
        preferredUsername: 'ada',
        email: 'ada@example.com',
        emailVerified: true,
        groups: ['admins'],
      });
    },
  },
  refresh: {
    removeUser: () => void users.delete(ada.sub),
    restoreUser: () => void users.set(ada.sub, ada),
  },
  faults: [
    { name: 'the upstream is down', set: () => upstream.stop(), clear: () => upstream.start() },
    { name: 'the token endpoint answers 503', set: () => void (mode = 'token503'), clear: () => void (mode = 'ok') },
    { name: 'the upstream hangs', set: () => void (mode = 'hang'), clear: () => void (mode = 'ok') },
  ],
});

describe('example-oauth-callback specifics', () => {
  let connector: CallbackConnector & Connector;
  const logger = createMemoryLogger();
  const scopes = { offlineAccess: true, groups: true };
  const callbackURL = 'https://issuer.test/dex/callback';

  beforeAll(async () => {
    const c = await factory.open('example', factory.configSchema.parse(config()), {
      logger,
      issuerURL: 'https://issuer.test/dex',
      callbackURL,
    });
    if (c.kind !== 'callback') throw new Error('expected a callback connector');
    connector = c;
  });
  afterAll(() => connector.close?.());

  it('sends a PKCE S256 challenge, and the code is refused with another login’s verifier', async () => {
    const a = await connector.loginURL(scopes, callbackURL, 'state-a');
    const b = await connector.loginURL(scopes, callbackURL, 'state-b');
    expect(new URL(a.url).searchParams.get('code_challenge_method')).toBe('S256');
    const request = await driveLogin(a.url);
    // A's state with B's verifier: the state check passes, the upstream refuses the verifier.
    const mixed = { ...(b.keep as object), state: 'state-a' };
    await expectConnectorError(connector.handleCallback(scopes, mixed, request), 'invalid_state');
  });

  it('sends the token POST once when the upstream is busy, and passes on Retry-After', async () => {
    const redirect = await connector.loginURL(scopes, callbackURL, 'state-busy');
    const request = await driveLogin(redirect.url);
    const before = tokenPosts.length;
    mode = 'token503';
    try {
      const error = await connector.handleCallback(scopes, redirect.keep, request).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'upstream_unavailable', retryAfter: 7 });
    } finally {
      mode = 'ok';
    }
    expect(tokenPosts.length - before).toBe(1);
  });

  it('accepts a form_post callback', async () => {
    const redirect = await connector.loginURL(scopes, callbackURL, 'state-form');
    const request = await driveLogin(redirect.url);
    const form = Object.fromEntries(request.url.searchParams);
    const identity = await connector.handleCallback(scopes, redirect.keep, {
      url: new URL(callbackURL),
      method: 'POST',
      form,
    });
    expect(identity.userId).toBe('u-1001');
  });

  it('logs no secret: neither the client secret, nor codes, nor tokens', async () => {
    const redirect = await connector.loginURL(scopes, callbackURL, 'state-log');
    const request = await driveLogin(redirect.url);
    const identity = await connector.handleCallback(scopes, redirect.keep, request);
    const logged = JSON.stringify(logger.records);
    expect(logged).not.toContain(CLIENT.secret);
    expect(logged).not.toContain(request.url.searchParams.get('code'));
    expect(logged).not.toContain((identity.connectorData as { refreshToken: string }).refreshToken);
  });
});
