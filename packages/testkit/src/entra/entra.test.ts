import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeEntra } from './index.ts';
import type { FakeEntra } from './types.ts';

const CLIENT = { clientId: 'app-1', clientSecret: 'app-1-secret', redirectUris: ['https://rp.test/callback'] };
let fake: FakeEntra;

beforeAll(async () => {
  fake = await startFakeEntra({
    tenantId: 'aaaaaaaa-0000-4000-8000-000000000001',
    users: [
      {
        userPrincipalName: 'ada@contoso.test',
        password: 'pw-ada',
        displayName: 'Ada',
        mail: 'ada@contoso.test',
        groups: ['g1'],
      },
    ],
    groups: [
      { id: 'g1', displayName: 'One', memberOf: ['g2'] },
      { id: 'g2', displayName: 'Two', securityEnabled: false },
    ],
    clients: [CLIENT],
    graphPageSize: 1,
  });
  fake.trustInThisProcess();
});
afterAll(() => fake.close());
afterEach(() => fake.clearFaults());

const form = (body: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body).toString(),
  redirect: 'manual' as const,
});

function authorizeURL(extra: Record<string, string> = {}, tenant = fake.tenantId): string {
  const u = new URL(`${fake.url}/${tenant}/oauth2/v2.0/authorize`);
  const params = {
    client_id: CLIENT.clientId,
    redirect_uri: CLIENT.redirectUris[0]!,
    response_type: 'code',
    scope: 'User.Read Directory.Read.All openid offline_access',
    state: 'st',
    nonce: 'no',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.href;
}

async function code(verifier?: string): Promise<string> {
  const challenge: Record<string, string> = verifier
    ? { code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' }
    : {};
  const back = await fake.signIn(authorizeURL(challenge), { username: 'ada@contoso.test', password: 'pw-ada' });
  expect(back.searchParams.get('state')).toBe('st');
  return back.searchParams.get('code') ?? '';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire JSON in assertions
type Wire = any;
const json = async (r: Response | Promise<Response>): Promise<Wire> => (await r).json();

const tokenURL = () => `${fake.url}/${fake.tenantId}/oauth2/v2.0/token`;
const redeem = (c: string, extra: Record<string, string> = {}) =>
  fetch(
    tokenURL(),
    form({
      grant_type: 'authorization_code',
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      code: c,
      redirect_uri: CLIENT.redirectUris[0]!,
      ...extra,
    }),
  );

describe('discovery and keys', () => {
  it('serves tenant metadata, with a {tenantid} issuer for common', async () => {
    const t = await json(fetch(`${fake.url}/${fake.tenantId}/v2.0/.well-known/openid-configuration`));
    expect(t).toMatchObject({
      issuer: fake.issuerFor(fake.tenantId),
      jwks_uri: `${fake.authority}/discovery/v2.0/keys`,
      token_endpoint: `${fake.authority}/oauth2/v2.0/token`,
    });
    const c = await json(fetch(`${fake.url}/common/v2.0/.well-known/openid-configuration`));
    expect(c.issuer).toBe(`${fake.url}/{tenantid}/v2.0`);
    const keys = await json(fetch(`${fake.authority}/discovery/v2.0/keys`));
    expect(keys.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(keys.keys[0].d).toBeUndefined();
  });

  it('refuses an unknown tenant with AADSTS90002', async () => {
    const r = await fetch(`${fake.url}/nope/v2.0/.well-known/openid-configuration`);
    expect(r.status).toBe(400);
    expect((await json(r)).error_codes).toEqual([90002]);
  });
});

describe('authorize and the login form', () => {
  it('renders a labelled form with loginfmt and passwd', async () => {
    const r = await fetch(authorizeURL());
    const html = await r.text();
    expect(r.status).toBe(200);
    expect(html).toMatch(/<label for="i0116">[^<]+<\/label>\s*<input type="email" name="loginfmt" id="i0116"/);
    expect(html).toMatch(/<label for="i0118">Password<\/label>\s*<input type="password" name="passwd" id="i0118"/);
  });

  it('shows error pages (no redirect) for an unknown app or an unregistered redirect URI', async () => {
    const a = await fetch(authorizeURL({ client_id: 'nope' }), { redirect: 'manual' });
    expect(a.status).toBe(400);
    expect(await a.text()).toContain('AADSTS700016');
    const b = await fetch(authorizeURL({ redirect_uri: 'https://evil.test/cb' }), { redirect: 'manual' });
    expect(b.status).toBe(400);
    expect(await b.text()).toContain('AADSTS50011');
  });

  it('redirects back with an error for a bad response_type or a missing scope', async () => {
    const a = await fetch(authorizeURL({ response_type: 'token' }), { redirect: 'manual' });
    expect(new URL(a.headers.get('location') ?? '').searchParams.get('error')).toBe('unsupported_response_type');
    const b = await fetch(authorizeURL({ scope: '' }), { redirect: 'manual' });
    const loc = new URL(b.headers.get('location') ?? '');
    expect(loc.searchParams.get('error')).toBe('invalid_request');
    expect(loc.searchParams.get('state')).toBe('st');
  });

  it('re-renders the form for a wrong password, refuses a forged ctx, and escapes what it echoes', async () => {
    const page = await (await fetch(authorizeURL())).text();
    const ctx = /name="ctx" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const wrong = await fetch(
      `${fake.url}/${fake.tenantId}/login`,
      form({ ctx, loginfmt: '<b>ada</b>', passwd: 'nope' }),
    );
    const html = await wrong.text();
    expect(wrong.status).toBe(200);
    expect(html).toContain('AADSTS50126');
    expect(html).not.toContain('<b>ada</b>');
    const forged = await fetch(
      `${fake.url}/${fake.tenantId}/login`,
      form({ ctx: 'forged', loginfmt: 'ada@contoso.test', passwd: 'pw-ada' }),
    );
    expect(forged.status).toBe(400);
  });

  it('redirects with an injected AADSTS error after the form', async () => {
    fake.setFault({
      where: 'authorize',
      oauthError: { error: 'access_denied', code: 50105, description: 'not assigned' },
      times: 1,
    });
    const back = await fake.signIn(authorizeURL(), { username: 'ada@contoso.test', password: 'pw-ada' });
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toContain('AADSTS50105');
    expect(back.searchParams.get('state')).toBe('st');
  });
});

describe('token endpoint', () => {
  it('redeems a code with PKCE: RS256 id_token with oid/tid/nonce, client_info, refresh token', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const r = await redeem(await code(verifier), { code_verifier: verifier });
    expect(r.status).toBe(200);
    const body: Wire = await r.json();
    expect(body).toMatchObject({
      token_type: 'Bearer',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
    });
    expect(JSON.parse(Buffer.from(body.client_info, 'base64url').toString())).toEqual({
      uid: fake.oidOf('ada@contoso.test'),
      utid: fake.tenantId,
    });
    const keys = createLocalJWKSet(await json(fetch(`${fake.authority}/discovery/v2.0/keys`)));
    const { payload } = await jwtVerify(body.id_token, keys, {
      issuer: fake.issuerFor(fake.tenantId),
      audience: CLIENT.clientId,
      algorithms: ['RS256'],
    });
    expect(payload).toMatchObject({
      oid: fake.oidOf('ada@contoso.test'),
      tid: fake.tenantId,
      nonce: 'no',
      preferred_username: 'ada@contoso.test',
    });
  });

  it('refuses wrong client credentials, reuse, a wrong verifier and a wrong redirect_uri with AADSTS codes', async () => {
    const errorCode = async (r: Response) => ((await json(r)) as { error_codes: number[] }).error_codes[0];
    const bad = await redeem('x', { client_secret: 'wrong' });
    expect(bad.status).toBe(401);
    expect(await errorCode(bad)).toBe(7000215);
    const missing = await fetch(
      tokenURL(),
      form({ grant_type: 'authorization_code', client_id: CLIENT.clientId, code: 'x' }),
    );
    expect(await errorCode(missing)).toBe(7000218);
    const verifier = randomBytes(32).toString('base64url');
    expect(await errorCode(await redeem(await code(verifier), { code_verifier: 'x'.repeat(43) }))).toBe(501481);
    expect(await errorCode(await redeem(await code(), { redirect_uri: 'https://rp.test/other' }))).toBe(50148);
    const once = await code();
    expect((await redeem(once)).status).toBe(200);
    expect(await errorCode(await redeem(once))).toBe(54005);
    const unsupported = await fetch(
      tokenURL(),
      form({ grant_type: 'password', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }),
    );
    expect(await errorCode(unsupported)).toBe(70003);
    const notForm = await fetch(tokenURL(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(notForm.status).toBe(400);
  });

  it('refreshes, and refuses after revocation (50173) or user removal (50034)', async () => {
    const body = await json(redeem(await code()));
    const refresh = (rt: string) =>
      fetch(
        tokenURL(),
        form({
          grant_type: 'refresh_token',
          refresh_token: rt,
          client_id: CLIENT.clientId,
          client_secret: CLIENT.clientSecret,
        }),
      );
    const ok = await refresh(body.refresh_token);
    expect(ok.status).toBe(200);
    const oid = fake.oidOf('ada@contoso.test');
    const restore = fake.removeUser(oid);
    expect((await json(refresh(body.refresh_token))).error_codes).toEqual([50034]);
    restore();
    fake.revokeTokens(oid);
    expect((await json(refresh(body.refresh_token))).error_codes).toEqual([50173]);
    expect((await json(refresh('unknown'))).error).toBe('invalid_grant');
  });
});

describe('Graph', () => {
  let token = '';
  beforeAll(async () => {
    token = (await json(redeem(await code()))).access_token;
  });
  const graph = (path: string, init: RequestInit = {}) =>
    fetch(`${fake.graphURL}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as object) },
    });

  it('answers /me with $select, and 401 without a valid token', async () => {
    const me = await json(graph('/v1.0/me?$select=id,mail'));
    expect(me).toMatchObject({ id: fake.oidOf('ada@contoso.test'), mail: 'ada@contoso.test' });
    expect(me.displayName).toBeUndefined();
    expect((await graph('/v1.0/me?$select=nope')).status).toBe(400);
    expect((await fetch(`${fake.graphURL}/v1.0/me`)).status).toBe(401);
    expect((await fetch(`${fake.graphURL}/v1.0/me`, { headers: { authorization: 'Bearer forged' } })).status).toBe(401);
  });

  it('pages getMemberGroups (transitive) with @odata.nextLink and checks the body', async () => {
    const first = await json(
      graph('/v1.0/me/getMemberGroups', { method: 'POST', body: JSON.stringify({ securityEnabledOnly: false }) }),
    );
    expect(first.value).toHaveLength(1);
    expect(first['@odata.nextLink']).toMatch(/\$skiptoken=/);
    const second = await json(
      graph(new URL(first['@odata.nextLink']).pathname + new URL(first['@odata.nextLink']).search, {
        method: 'POST',
        body: JSON.stringify({ securityEnabledOnly: false }),
      }),
    );
    expect([...first.value, ...second.value].sort()).toEqual(['g1', 'g2']);
    const secure = await json(
      graph('/v1.0/me/getMemberGroups', { method: 'POST', body: JSON.stringify({ securityEnabledOnly: true }) }),
    );
    expect(secure.value).toEqual(['g1']);
    expect((await graph('/v1.0/me/getMemberGroups', { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await graph('/v1.0/me/getMemberGroups', { method: 'POST', body: 'not json' })).status).toBe(400);
    expect(
      (
        await graph('/v1.0/me/getMemberGroups?$skiptoken=%%%', {
          method: 'POST',
          body: JSON.stringify({ securityEnabledOnly: true }),
        })
      ).status,
    ).toBe(400);
  });

  it('resolves names with getByIds and refuses more than 1000 ids or an empty list', async () => {
    const r = await json(
      graph('/v1.0/directoryObjects/getByIds', {
        method: 'POST',
        body: JSON.stringify({ ids: ['g1'], types: ['group'] }),
      }),
    );
    expect(r.value[0]).toMatchObject({ '@odata.type': '#microsoft.graph.group', id: 'g1', displayName: 'One' });
    const many = Array.from({ length: 1001 }, (_, i) => `x${i}`);
    expect(
      (await graph('/v1.0/directoryObjects/getByIds', { method: 'POST', body: JSON.stringify({ ids: many }) })).status,
    ).toBe(400);
    expect(
      (await graph('/v1.0/directoryObjects/getByIds', { method: 'POST', body: JSON.stringify({ ids: [] }) })).status,
    ).toBe(400);
    expect((await graph('/v1.0/nothing')).status).toBe(404);
  });
});

describe('faults', () => {
  it('answers 429 with Retry-After for the given number of requests', async () => {
    fake.setFault({ where: 'discovery', status: 429, retryAfter: 7, times: 1 });
    const url = `${fake.authority}/v2.0/.well-known/openid-configuration`;
    const first = await fetch(url);
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await fetch(url)).status).toBe(200);
  });

  it('can go down (connection refused) and come back on the same port', async () => {
    await fake.setDown(true);
    await expect(fetch(`${fake.authority}/discovery/v2.0/keys`)).rejects.toThrow();
    await fake.setDown(false);
    expect((await fetch(`${fake.authority}/discovery/v2.0/keys`)).status).toBe(200);
  });

  it('refuses an oversized body with 413', async () => {
    const r = await fetch(tokenURL(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a='.padEnd(2 << 20, 'x'),
    });
    expect(r.status).toBe(413);
  });

  it('writes its CA to caFile for child processes', async () => {
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(fake.caFile, 'utf8')).toBe(fake.caCert);
  });

  it('records requests without query strings', () => {
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(fake.requests.every((r) => !r.path.includes('?'))).toBe(true);
  });
});
