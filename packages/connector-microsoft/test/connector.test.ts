import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger, expectConnectorError } from '@gatehouse/connector-kit/testing';
import type { Identity } from '@gatehouse/connector-kit';
import type { FakeEntra } from '@gatehouse/testkit/entra';
import { factory } from '../src/index.ts';
import { allScopes, baseConfig, CALLBACK, CLIENT_SECRET, groups, login, open, startEntra } from './fixtures.ts';

const OTHER_TENANT = 'b0000000-0000-4000-8000-000000000099';
let fake: FakeEntra;

beforeAll(async () => {
  fake = await startEntra({
    users: [
      {
        userPrincipalName: 'ada@contoso.test',
        password: 'Passw0rd!ada',
        displayName: 'Ada Lovelace',
        mail: 'Ada.Lovelace@Contoso.test',
        groups: [groups.devs.id, groups.mailing.id],
      },
      { userPrincipalName: 'bob@contoso.test', password: 'Passw0rd!bob', displayName: 'Bob', mail: null, groups: [] },
      {
        userPrincipalName: 'eve@fabrikam.test',
        password: 'Passw0rd!eve',
        displayName: 'Eve',
        mail: 'eve@fabrikam.test',
        tid: OTHER_TENANT,
        groups: [groups.admins.id],
      },
      {
        userPrincipalName: 'vic@fabrikam.test',
        password: 'Passw0rd!vic',
        displayName: 'Vic',
        mail: 'vic@fabrikam.test',
        tid: OTHER_TENANT,
        emailDomainOwnerVerified: true,
      },
      {
        userPrincipalName: 'many@contoso.test',
        password: 'Passw0rd!many',
        displayName: 'Many Groups',
        mail: 'many@contoso.test',
        groups: [],
      },
    ],
  });
  // 250 groups for "many" (3 Graph pages of 100), plus 1000 more for a user beyond one getByIds batch.
  const bulk = Array.from({ length: 1250 }, (_, i) => ({
    id: `c0000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    displayName: `Team ${i}`,
  }));
  fake.addGroups(bulk);
  fake.setUserGroups(
    fake.oidOf('many@contoso.test'),
    bulk.slice(0, 250).map((g) => g.id),
  );
});
afterAll(() => fake.close());
afterEach(() => fake.clearFaults());

const ada = (c: Awaited<ReturnType<typeof open>>, scopes = allScopes) =>
  login(c, fake, 'ada@contoso.test', 'Passw0rd!ada', scopes);

describe('login', () => {
  it('keys the user on oid, reads profile and transitive groups from Graph, keeps tid and a refresh token', async () => {
    const c = await open(baseConfig(fake));
    const id = await ada(c);
    expect(id.userId).toBe(fake.oidOf('ada@contoso.test'));
    expect(id).toMatchObject({
      username: 'Ada Lovelace',
      email: 'Ada.Lovelace@Contoso.test',
      emailVerified: true,
      preferredUsername: 'ada@contoso.test',
    });
    expect(id.groups?.sort()).toEqual(['Developers', 'Everyone', 'Newsletter']);
    expect(id.connectorData).toMatchObject({ oid: id.userId, tid: fake.tenantId, refreshToken: expect.any(String) });
  });

  it('sends PKCE S256, a nonce, the state and prompt/domain_hint upstream', async () => {
    const c = await open(baseConfig(fake, { promptType: 'select_account', domainHint: 'contoso.test' }));
    const r = await c.loginURL(allScopes, CALLBACK, 'state-xyz');
    const u = new URL(r.url);
    expect(u.origin + u.pathname).toBe(`${fake.authority}/oauth2/v2.0/authorize`);
    expect(u.searchParams.get('state')).toBe('state-xyz');
    expect(u.searchParams.get('code_challenge_method')).toBe('S256');
    expect(u.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(u.searchParams.get('nonce')).toBeTruthy();
    expect(u.searchParams.get('prompt')).toBe('select_account');
    expect(u.searchParams.get('domain_hint')).toBe('contoso.test');
    expect(u.searchParams.get('scope')?.split(' ')).toEqual(
      expect.arrayContaining(['User.Read', 'Directory.Read.All', 'openid', 'offline_access']),
    );
    expect(JSON.stringify(r.keep)).not.toContain(CLIENT_SECRET);
  });

  it('does not store a refresh token without offline_access, nor groups when neither asked nor required', async () => {
    const c = await open(baseConfig(fake));
    const id = await ada(c, { offlineAccess: false, groups: false });
    expect(id.groups).toBeUndefined();
    expect((id.connectorData as { refreshToken?: string }).refreshToken).toBeUndefined();
    expect(
      new URL((await c.loginURL({ offlineAccess: false, groups: false }, CALLBACK, 's')).url).searchParams.get('scope'),
    ).not.toContain('Directory.Read.All');
  });

  it('refuses a tampered PKCE verifier or nonce in the kept data with invalid_state', async () => {
    const c = await open(baseConfig(fake));
    for (const tamper of ['codeVerifier', 'nonce'] as const) {
      const r = await c.loginURL(allScopes, CALLBACK, `s-${tamper}`);
      const back = await fake.signIn(r.url, { username: 'ada@contoso.test', password: 'Passw0rd!ada' });
      const keep = { ...(r.keep as Record<string, string>) };
      keep[tamper] = tamper === 'codeVerifier' ? 'x'.repeat(43) : randomUUID();
      await expectConnectorError(c.handleCallback(allScopes, keep, { url: back, method: 'GET' }), 'invalid_state');
    }
  });

  it('accepts a form_post callback', async () => {
    const c = await open(baseConfig(fake));
    const r = await c.loginURL(allScopes, CALLBACK, 'state-post');
    const back = await fake.signIn(r.url, { username: 'ada@contoso.test', password: 'Passw0rd!ada' });
    const form = Object.fromEntries(back.searchParams);
    const id = await c.handleCallback(allScopes, r.keep, { url: new URL(CALLBACK), method: 'POST', form });
    expect(id.userId).toBe(fake.oidOf('ada@contoso.test'));
  });

  it('applies emailToLowercase on login and on refresh', async () => {
    const c = await open(baseConfig(fake, { emailToLowercase: true }));
    const id = await ada(c);
    expect(id.email).toBe('ada.lovelace@contoso.test');
    const refreshed = await c.refresh(allScopes, JSON.parse(JSON.stringify(id)) as Identity);
    expect(refreshed.email).toBe('ada.lovelace@contoso.test');
  });

  it('falls back to the UPN for users without mail, and maps preferredUsernameField', async () => {
    const c = await open(baseConfig(fake, { preferredUsernameField: 'mailNickname' }));
    const id = await login(c, fake, 'bob@contoso.test', 'Passw0rd!bob');
    expect(id.email).toBe('bob@contoso.test');
    expect(id.preferredUsername).toBe('bob');
    expect(id.groups).toEqual([]);
  });

  it('logs no token, code, secret or password', async () => {
    const logger = createMemoryLogger();
    const c = await open(baseConfig(fake), logger);
    const id = await ada(c);
    await c.refresh(allScopes, id);
    const logged = JSON.stringify(logger.records);
    expect(logger.records.length).toBeGreaterThan(0);
    for (const secret of [CLIENT_SECRET, 'Passw0rd!ada', (id.connectorData as { refreshToken: string }).refreshToken]) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).not.toMatch(/code\.|rt\.|at\./);
  });

  it('refuses to open when redirectURI is not the issuer callback', async () => {
    const config = factory.configSchema.parse(baseConfig(fake, { redirectURI: 'https://elsewhere.test/callback' }));
    expect(() =>
      factory.open('x', config, {
        logger: createMemoryLogger(),
        issuerURL: 'https://issuer.test/dex',
        callbackURL: CALLBACK,
      }),
    ).toThrow(/redirectURI/);
  });
});

describe('groups', () => {
  it('onlySecurityGroups leaves out distribution groups', async () => {
    const id = await ada(await open(baseConfig(fake, { onlySecurityGroups: true })));
    expect(id.groups?.sort()).toEqual(['Developers', 'Everyone']);
  });

  it('groupNameFormat id returns group ids', async () => {
    const id = await ada(await open(baseConfig(fake, { groupNameFormat: 'id' })));
    expect(id.groups?.sort()).toEqual([groups.devs.id, groups.everyone.id, groups.mailing.id].sort());
  });

  it('required groups: a member passes with all groups, a non-member gets not_in_required_groups', async () => {
    const c = await open(baseConfig(fake, { groups: ['Everyone', 'Admins'] }));
    expect((await ada(c)).groups?.sort()).toEqual(['Developers', 'Everyone', 'Newsletter']);
    await expectConnectorError(login(c, fake, 'bob@contoso.test', 'Passw0rd!bob'), 'not_in_required_groups');
  });

  it('useGroupsAsWhitelist returns only the listed groups', async () => {
    const id = await ada(await open(baseConfig(fake, { groups: ['Everyone', 'Admins'], useGroupsAsWhitelist: true })));
    expect(id.groups).toEqual(['Everyone']);
  });

  it('required groups are enforced in common mode too (fail closed), even when the client did not ask for groups', async () => {
    const c = await open(baseConfig(fake, { tenant: 'common', groups: ['Admins'] }));
    await expectConnectorError(ada(c, { offlineAccess: false, groups: false }), 'not_in_required_groups');
    const eve = await login(c, fake, 'eve@fabrikam.test', 'Passw0rd!eve', { offlineAccess: false, groups: false });
    expect(eve.groups).toBeUndefined();
  });

  it('250 groups over several Graph pages all arrive', async () => {
    const before = fake.requests.length;
    const id = await login(await open(baseConfig(fake)), fake, 'many@contoso.test', 'Passw0rd!many');
    expect(id.groups).toHaveLength(250);
    expect(new Set(id.groups).size).toBe(250);
    const calls = fake.requests.slice(before);
    expect(calls.filter((r) => r.path === '/v1.0/me/getMemberGroups').length).toBe(3);
    expect(calls.filter((r) => r.path === '/v1.0/directoryObjects/getByIds').length).toBe(3);
  });

  it('looks group names up in batches of at most 1000 ids', async () => {
    const oid = fake.oidOf('many@contoso.test');
    const all = Array.from({ length: 1250 }, (_, i) => `c0000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    fake.setUserGroups(oid, all);
    try {
      const before = fake.requests.length;
      const id = await login(await open(baseConfig(fake)), fake, 'many@contoso.test', 'Passw0rd!many');
      expect(id.groups).toHaveLength(1250);
      const sizes = fake.requests
        .slice(before)
        .filter((r) => r.idsRequested !== undefined)
        .map((r) => r.idsRequested ?? 0);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
      expect(new Set(sizes)).toEqual(new Set([1000, 250]));
    } finally {
      fake.setUserGroups(oid, all.slice(0, 250));
    }
  });
});

describe('tenants', () => {
  it('common without allowedTenants admits any tenant; emailVerified only for owner-verified domains', async () => {
    const c = await open(baseConfig(fake, { tenant: 'common' }));
    const eve = await login(c, fake, 'eve@fabrikam.test', 'Passw0rd!eve');
    expect((eve.connectorData as { tid: string }).tid).toBe(OTHER_TENANT);
    expect(eve.emailVerified).toBe(false);
    const vic = await login(c, fake, 'vic@fabrikam.test', 'Passw0rd!vic');
    expect(vic).toMatchObject({ email: 'vic@fabrikam.test', emailVerified: true });
  });

  it('allowedTenants refuses other tenants with access_denied', async () => {
    const c = await open(baseConfig(fake, { tenant: 'organizations', allowedTenants: [fake.tenantId] }));
    expect((await ada(c)).userId).toBe(fake.oidOf('ada@contoso.test'));
    await expectConnectorError(login(c, fake, 'eve@fabrikam.test', 'Passw0rd!eve'), 'access_denied');
  });

  it('a single-tenant connector never lets another tenant in', async () => {
    const c = await open(baseConfig(fake));
    await expect(login(c, fake, 'eve@fabrikam.test', 'Passw0rd!eve')).rejects.toThrow(/AADSTS50020/);
  });
});

describe('upstream errors', () => {
  it('maps AADSTS50105 on the callback to access_denied with a readable message', async () => {
    fake.setFault({
      where: 'authorize',
      oauthError: {
        error: 'access_denied',
        code: 50105,
        description: 'The signed in user is not assigned to a role for the application.',
      },
    });
    const c = await open(baseConfig(fake));
    const err = await ada(c).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'access_denied', userMessage: expect.stringContaining('AADSTS50105') });
    expect((err as { userMessage: string }).userMessage).toMatch(/not assigned/);
  });

  it('maps AADSTS65001 from the token endpoint to access_denied (consent)', async () => {
    fake.setFault({
      where: 'token',
      oauthError: { error: 'invalid_grant', code: 65001, description: 'The user or administrator has not consented.' },
    });
    const err = await ada(await open(baseConfig(fake))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'access_denied', userMessage: expect.stringContaining('consent') });
  });

  it('maps a wrong client secret (AADSTS7000215) to upstream_error', async () => {
    const err = await ada(await open(baseConfig(fake, { clientSecret: 'wrong' }))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_error', userMessage: expect.stringContaining('AADSTS7000215') });
  });

  it('maps unauthorized_client (AADSTS700016) from the token endpoint to upstream_error', async () => {
    fake.setFault({
      where: 'token',
      oauthError: {
        error: 'unauthorized_client',
        code: 700016,
        description: "Application with identifier 'x' was not found.",
      },
    });
    const err = await ada(await open(baseConfig(fake))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_error', userMessage: expect.stringContaining('AADSTS700016') });
    expect((err as { userMessage: string }).userMessage).not.toContain('was not found');
  });

  it('maps an unknown application (AADSTS700016) shown at the authorize page', async () => {
    const c = await open(baseConfig(fake, { clientID: 'unknown-app' }));
    const r = await c.loginURL(allScopes, CALLBACK, 's');
    await expect(fake.signIn(r.url, { username: 'ada@contoso.test', password: 'Passw0rd!ada' })).rejects.toThrow(
      /AADSTS700016/,
    );
  });

  it('retries once after a short Graph 429 Retry-After', async () => {
    fake.setFault({ where: 'graph', status: 429, retryAfter: 1, times: 1 });
    const id = await ada(await open(baseConfig(fake)));
    expect(id.userId).toBe(fake.oidOf('ada@contoso.test'));
  });

  it('gives up on a long Graph 429 with upstream_unavailable and retryAfter', async () => {
    fake.setFault({ where: 'graph', status: 429, retryAfter: 120 });
    const err = await ada(await open(baseConfig(fake))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryAfter: 120 });
  });

  it('maps a token-endpoint 429 to upstream_unavailable with retryAfter', async () => {
    fake.setFault({ where: 'token', status: 429, retryAfter: 30 });
    const err = await ada(await open(baseConfig(fake))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryAfter: 30 });
  });

  it('bounds a hanging discovery with upstream_unavailable', async () => {
    const c = await open(baseConfig(fake, { timeoutSeconds: 0.5 }));
    fake.setFault({ where: 'discovery', hang: true });
    await expectConnectorError(c.loginURL(allScopes, CALLBACK, 's'), 'upstream_unavailable');
    fake.clearFaults();
    expect((await c.loginURL(allScopes, CALLBACK, 's')).url).toContain('/oauth2/v2.0/authorize');
  });

  it('never follows a Graph nextLink to another host (the bearer token would leak)', async () => {
    fake.setNextLinkOrigin('https://graph.evil.test');
    const before = fake.requests.length;
    const err = await login(await open(baseConfig(fake)), fake, 'many@contoso.test', 'Passw0rd!many').catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'upstream_error' });
    expect(fake.requests.slice(before).filter((r) => r.path === '/v1.0/me/getMemberGroups')).toHaveLength(1);
  });

  it('maps failures of the signing-key endpoint: 503 and a hang → upstream_unavailable, 500 → upstream_error', async () => {
    for (const [fault, code] of [
      [{ where: 'keys', status: 503 }, 'upstream_unavailable'],
      [{ where: 'keys', hang: true }, 'upstream_unavailable'],
      [{ where: 'keys', status: 500 }, 'upstream_error'],
    ] as const) {
      const c = await open(baseConfig(fake, { timeoutSeconds: 0.5 }));
      fake.setFault(fault);
      await expectConnectorError(ada(c), code);
      fake.clearFaults();
      expect((await ada(c)).userId).toBe(fake.oidOf('ada@contoso.test'));
    }
  });

  it('a missing Graph permission for groups is an upstream_error that says so', async () => {
    const c = await open(baseConfig(fake, { scopes: ['User.Read', 'https://graph.microsoft.com/.default'] }));
    const err = await ada(c).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_error', userMessage: expect.stringContaining('Directory.Read.All') });
  });
});

describe('refresh', () => {
  it('re-reads groups and rotates the upstream refresh token', async () => {
    const c = await open(baseConfig(fake));
    const id = await ada(c);
    const oid = id.userId;
    fake.setUserGroups(oid, [groups.admins.id]);
    try {
      const next = await c.refresh(allScopes, id);
      expect(next.userId).toBe(oid);
      expect(next.groups).toEqual(['Admins']);
      expect((next.connectorData as { refreshToken: string }).refreshToken).not.toBe(
        (id.connectorData as { refreshToken: string }).refreshToken,
      );
    } finally {
      fake.setUserGroups(oid, [groups.devs.id, groups.mailing.id]);
    }
  });

  it('hands back the rotated refresh token when Graph fails after the token call', async () => {
    const c = await open(baseConfig(fake));
    const id = await ada(c);
    const before = (id.connectorData as { refreshToken: string }).refreshToken;
    fake.setFault({ where: 'graph', status: 503, times: 1 });
    const error = await c.refresh(allScopes, JSON.parse(JSON.stringify(id)) as Identity).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_unavailable' });
    const kept = (error as { connectorData?: { oid: string; tid: string; refreshToken: string } }).connectorData;
    expect(kept).toMatchObject({ oid: id.userId, tid: fake.tenantId, refreshToken: expect.any(String) });
    expect(kept?.refreshToken).not.toBe(before);
    const next = await c.refresh(allScopes, { ...id, connectorData: kept });
    expect(next.userId).toBe(id.userId);
  });

  it('fails with refresh_failed once the tokens are revoked', async () => {
    const c = await open(baseConfig(fake));
    const id = await login(c, fake, 'bob@contoso.test', 'Passw0rd!bob');
    fake.revokeTokens(id.userId);
    await expectConnectorError(c.refresh(allScopes, id), 'refresh_failed');
  });

  it('fails with not_in_required_groups when the user left the required groups', async () => {
    const c = await open(baseConfig(fake, { groups: ['Developers'] }));
    const id = await ada(c);
    fake.setUserGroups(id.userId, []);
    try {
      await expectConnectorError(c.refresh(allScopes, id), 'not_in_required_groups');
    } finally {
      fake.setUserGroups(id.userId, [groups.devs.id, groups.mailing.id]);
    }
  });

  it('fails with refresh_failed without a stored refresh token', async () => {
    const c = await open(baseConfig(fake));
    await expectConnectorError(
      c.refresh(allScopes, { userId: 'x', username: 'x', connectorData: { oid: 'x', tid: 'y' } }),
      'refresh_failed',
    );
    await expectConnectorError(c.refresh(allScopes, { userId: 'x', username: 'x' }), 'refresh_failed');
  });
});

describe('warnings', () => {
  const w = (extra: Record<string, unknown>) =>
    factory.warnings?.(factory.configSchema.parse({ clientID: 'a', clientSecret: 'b', ...extra })) ?? [];
  it('tells about unrestricted multi-tenant sign-in and unenforceable settings', () => {
    expect(w({ tenant: 'common' }).join('\n')).toMatch(/ANY Entra ID tenant/);
    expect(w({ tenant: 'common', allowedTenants: [fake.tenantId] })).toEqual([]);
    expect(w({ tenant: 'consumers', groups: ['x'] }).join('\n')).toMatch(/every sign-in will be refused/);
    expect(w({ tenant: fake.tenantId, useGroupsAsWhitelist: true }).join('\n')).toMatch(/useGroupsAsWhitelist/);
    expect(w({ tenant: fake.tenantId, scopes: ['Mail.Read'] }).join('\n')).toMatch(/User.Read/);
    expect(w({ tenant: fake.tenantId, scopes: ['User.Read'], groups: ['x'] }).join('\n')).toMatch(/Directory.Read.All/);
    expect(w({ tenant: fake.tenantId })).toEqual([]);
  });
});
