import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paginate, redirectAllowed, startFakeGitHub } from './index.ts';
import type { FakeGitHub } from './index.ts';

const CB = 'https://app.test/callback';
let gh: FakeGitHub;

beforeAll(async () => {
  gh = await startFakeGitHub({
    users: [
      { id: 7, login: 'octo', name: 'Octo Cat', emails: [{ email: 'octo@x.example', verified: true, primary: true }] },
      { id: 8, login: 'outsider' },
    ],
    orgs: [{ login: 'acme', members: ['octo'] }],
    teams: [{ org: 'acme', name: 'Core Devs', members: ['octo'] }],
    clients: [{ clientId: 'cid', clientSecret: 'csecret', callbackURL: CB }],
    signedInAs: 'octo',
  });
});
afterAll(async () => {
  await gh.close();
});

const verifier = 'v'.repeat(43);
const challenge = createHash('sha256').update(verifier).digest('base64url');

async function code(login = 'octo', scope = 'user:email read:org', withPkce = true): Promise<string> {
  gh.signIn(login);
  const url = new URL(`${gh.url}/login/oauth/authorize`);
  url.search = new URLSearchParams({
    client_id: 'cid',
    redirect_uri: CB,
    scope,
    state: 'st',
    ...(withPkce ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
  }).toString();
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const loc = new URL(res.headers.get('location') ?? '');
  expect(loc.searchParams.get('state')).toBe('st');
  return loc.searchParams.get('code') ?? '';
}

async function token(fields: Record<string, string>, accept = 'application/json'): Promise<Response> {
  return fetch(`${gh.url}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept },
    body: new URLSearchParams(fields),
  });
}

async function accessToken(login = 'octo', scope?: string): Promise<string> {
  const c = await code(login, scope);
  const body = (await (
    await token({ client_id: 'cid', client_secret: 'csecret', code: c, code_verifier: verifier })
  ).json()) as { access_token: string };
  return body.access_token;
}

function api(path: string, tok?: string): Promise<Response> {
  return fetch(`${gh.apiURL}${path}`, { redirect: 'manual', headers: tok ? { authorization: `Bearer ${tok}` } : {} });
}

describe('fake GitHub: OAuth', () => {
  it('rejects an unknown client_id with a 404 page and a foreign redirect_uri with redirect_uri_mismatch', async () => {
    expect((await fetch(`${gh.url}/login/oauth/authorize?client_id=nope`)).status).toBe(404);
    const res = await fetch(`${gh.url}/login/oauth/authorize?client_id=cid&redirect_uri=https://evil.test/cb&state=s`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get('location') ?? '');
    expect(loc.origin + loc.pathname).toBe(CB);
    expect(loc.searchParams.get('error')).toBe('redirect_uri_mismatch');
  });

  it('accepts a redirect_uri below the registered callback only', () => {
    expect(redirectAllowed(CB, `${CB}/sub`)).toBe(true);
    expect(redirectAllowed(CB, 'https://app.test/callbackX')).toBe(false);
    expect(redirectAllowed(CB, 'https://app.test:444/callback')).toBe(false);
  });

  it('refuses plain PKCE with a 400 page', async () => {
    const res = await fetch(
      `${gh.url}/login/oauth/authorize?client_id=cid&code_challenge=abc&code_challenge_method=plain`,
    );
    expect(res.status).toBe(400);
  });

  it('shows an authorize form when no user is signed in', async () => {
    gh.signIn(undefined);
    const res = await fetch(`${gh.url}/login/oauth/authorize?client_id=cid&state=s`);
    const html = await res.text();
    expect(html).toContain('<select name="login">');
    expect(html).toContain('name="authorize" value="1"');
    gh.signIn('octo');
  });

  it('answers token errors with HTTP 200 and GitHub error codes', async () => {
    const c = await code();
    const bad = async (fields: Record<string, string>) => (await (await token(fields)).json()) as { error: string };
    expect((await bad({ client_id: 'cid', client_secret: 'wrong', code: c })).error).toBe(
      'incorrect_client_credentials',
    );
    expect((await bad({ client_id: 'cid', client_secret: 'csecret', code: 'nope' })).error).toBe(
      'bad_verification_code',
    );
    expect(
      (await bad({ client_id: 'cid', client_secret: 'csecret', code: c, code_verifier: 'w'.repeat(43) })).error,
    ).toBe('bad_verification_code');
    expect(
      (
        await bad({
          client_id: 'cid',
          client_secret: 'csecret',
          code: c,
          code_verifier: verifier,
          redirect_uri: 'https://app.test/other',
        })
      ).error,
    ).toBe('redirect_uri_mismatch');
    // None of the refusals spent the code.
    const ok = (await (
      await token({ client_id: 'cid', client_secret: 'csecret', code: c, code_verifier: verifier })
    ).json()) as { access_token: string; scope: string };
    expect(ok.access_token).toMatch(/^gho_/);
    expect(ok.scope).toBe('user:email,read:org');
    expect((await bad({ client_id: 'cid', client_secret: 'csecret', code: c, code_verifier: verifier })).error).toBe(
      'bad_verification_code',
    );
    expect(gh.requests.at(-1)?.fields?.['client_secret']).toBe('[redacted]');
  });

  it('answers form-encoded without Accept: application/json, and takes JSON bodies', async () => {
    const c = await code('octo', 'user:email', false);
    const res = await token({ client_id: 'cid', client_secret: 'csecret', code: c }, '*/*');
    expect(res.headers.get('content-type')).toContain('application/x-www-form-urlencoded');
    expect(new URLSearchParams(await res.text()).get('token_type')).toBe('bearer');
    const c2 = await code('octo', 'user:email', false);
    const json = await fetch(`${gh.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'cid', client_secret: 'csecret', code: c2 }),
    });
    expect(((await json.json()) as { access_token: string }).access_token).toMatch(/^gho_/);
    const broken = await fetch(`${gh.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: '{',
    });
    expect(((await broken.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('fake GitHub: REST', () => {
  it('needs a valid token', async () => {
    expect((await api('/user')).status).toBe(401);
    const res = await api('/user', 'gho_nope');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBe('Bad credentials');
  });

  it('serves /user with rate-limit headers, and /user/emails, /user/teams', async () => {
    const t = await accessToken();
    const res = await api('/user', t);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 7, login: 'octo', name: 'Octo Cat' });
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeLessThan(5000);
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    expect(await (await api('/user/emails', t)).json()).toEqual([
      { email: 'octo@x.example', primary: true, verified: true, visibility: null },
    ]);
    expect(await (await api('/user/teams', t)).json()).toMatchObject([
      { name: 'Core Devs', slug: 'core-devs', organization: { login: 'acme' } },
    ]);
  });

  it('answers membership 204 / 404 / 302 as documented', async () => {
    const member = await accessToken('octo');
    expect((await api('/orgs/acme/members/octo', member)).status).toBe(204);
    expect((await api('/orgs/acme/members/outsider', member)).status).toBe(404);
    expect((await api('/orgs/nope/members/octo', member)).status).toBe(404);
    const outsider = await accessToken('outsider');
    const res = await api('/orgs/acme/members/outsider', outsider);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${gh.apiURL}/orgs/acme/public_members/outsider`);
    // Without read:org concealed memberships are invisible.
    const narrow = await accessToken('octo', 'user:email');
    expect((await api('/orgs/acme/members/octo', narrow)).status).toBe(302);
    expect((await api('/user/teams', narrow)).status).toBe(404);
  });

  it('injects faults, then recovers', async () => {
    const t = await accessToken();
    gh.setFault({ kind: 'rateLimit', seconds: 50, times: 1 });
    const limited = await api('/user', t);
    expect(limited.status).toBe(403);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    gh.setFault({ kind: 'secondaryRateLimit', seconds: 9, times: 1 });
    const secondary = await api('/user', t);
    expect(secondary.status).toBe(429);
    expect(secondary.headers.get('retry-after')).toBe('9');
    gh.setFault({ kind: 'serverError', times: 1 });
    expect((await api('/user', t)).status).toBe(500);
    expect((await api('/user', t)).status).toBe(200);
    gh.revokeToken(t);
    expect((await api('/user', t)).status).toBe(401);
  });

  it('answers unknown paths and methods with 404 JSON', async () => {
    const t = await accessToken();
    expect((await api('/nope', t)).status).toBe(404);
    expect(
      (await fetch(`${gh.apiURL}/user`, { method: 'DELETE', headers: { authorization: `Bearer ${t}` } })).status,
    ).toBe(404);
    expect((await fetch(`${gh.url}/login/oauth/access_token`)).status).toBe(404);
  });
});

describe('fake GitHub: pagination', () => {
  it('pages with per_page/page and Link rels', () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    const first = paginate(items, new URL('https://h/api/v3/user/teams?per_page=100'));
    expect(first.page).toHaveLength(100);
    expect(first.link).toContain('page=2>; rel="next"');
    expect(first.link).toContain('page=3>; rel="last"');
    const last = paginate(items, new URL('https://h/api/v3/user/teams?per_page=100&page=3'));
    expect(last.page).toEqual(items.slice(200));
    expect(last.link).not.toContain('rel="next"');
    expect(paginate(items, new URL('https://h/x?per_page=1000')).page).toHaveLength(100);
    expect(paginate(items, new URL('https://h/x?per_page=abc&page=-1')).page).toEqual(items.slice(0, 30));
  });
});

describe('fake GitHub Enterprise over HTTPS', () => {
  it('serves /api/v3 with a certificate from its test CA, and removes the CA file on close', async () => {
    const ghe = await startFakeGitHub({ users: [{ id: 1, login: 'u' }], clients: [], https: true });
    expect(ghe.apiURL).toBe(`${ghe.url}/api/v3`);
    expect(ghe.caFile && existsSync(ghe.caFile)).toBe(true);
    const status = await new Promise<number>((resolve, reject) => {
      httpsGet(`${ghe.apiURL}/user`, { ca: ghe.caCert }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(401);
    await ghe.close();
    expect(existsSync(ghe.caFile ?? '')).toBe(false);
  });
});
