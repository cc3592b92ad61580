import { expectConnectorError } from '@gatehouse/connector-kit/testing';
import type { FakeGitHub } from '@gatehouse/testkit/github';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL, assertNotLogged, dotComConfig, loginAs, openConnector, startWorld } from './fixtures.ts';
import type { Opened } from './fixtures.ts';

let gh: FakeGitHub;
let o: Opened;

beforeAll(async () => {
  gh = await startWorld();
  o = await openConnector(dotComConfig(gh, { orgs: [{ name: 'acme' }, { name: 'other', teams: ['Readers'] }] }));
});
afterAll(async () => {
  await o.connector.close?.();
  await gh.close();
});

function refresh(identity: Parameters<NonNullable<Opened['connector']['refresh']>>[1]) {
  const r = o.connector.refresh;
  if (!r) throw new Error('connector has no refresh');
  return r.call(o.connector, ALL, JSON.parse(JSON.stringify(identity)));
}

describe('github connector: refresh', () => {
  it('re-reads user, email and groups with the stored token', async () => {
    const identity = await loginAs(gh, o.connector, 'alice');
    gh.setEmails('alice', [{ email: 'alice@new.example', verified: true, primary: true }]);
    gh.state.addToOrg('acme', 'alice', []);
    gh.removeFromOrg('other', 'alice');
    const refreshed = await refresh(identity);
    expect(refreshed.userId).toBe(identity.userId);
    expect(refreshed.email).toBe('alice@new.example');
    expect(refreshed.groups?.sort()).toEqual(['acme:Platform Team', 'acme:SRE']);
    expect(refreshed.connectorData).toEqual(identity.connectorData);
  });

  it('fails with refresh_failed once the user is removed from every allowed organisation', async () => {
    const identity = await loginAs(gh, o.connector, 'bob');
    expect(identity.groups).toEqual(['other:Readers']);
    gh.removeFromOrg('other', 'bob');
    await expectConnectorError(refresh(identity), 'refresh_failed');
  });

  it('fails with refresh_failed when the token was revoked (401), without logging it', async () => {
    const identity = await loginAs(gh, o.connector, 'dave');
    const token = (identity.connectorData as { accessToken: string }).accessToken;
    gh.revokeToken(token);
    await expectConnectorError(refresh(identity), 'refresh_failed');
    assertNotLogged(o.logger, [token]);
  });

  it('fails with refresh_failed without stored connector data', async () => {
    await expectConnectorError(refresh({ userId: '1001', username: 'alice' }), 'refresh_failed');
  });

  it('keeps a rate limit during refresh transient (upstream_unavailable, not refresh_failed)', async () => {
    const identity = await loginAs(gh, o.connector, 'dave');
    gh.setFault({ kind: 'rateLimit', seconds: 42, times: 1 });
    const error = await refresh(identity).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_unavailable' });
    expect((error as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(40);
    expect((await refresh(identity)).userId).toBe('1004');
  });
});

describe('github connector: refresh with GitHub App expiring user tokens', () => {
  let app: FakeGitHub;
  let c: Opened;
  beforeAll(async () => {
    // Tokens that are already inside the renewal margin: every refresh renews them.
    app = await startWorld({ tokenLifetimeSeconds: 30 });
    c = await openConnector(dotComConfig(app));
  });
  afterAll(async () => {
    await c.connector.close?.();
    await app.close();
  });

  it('renews the access token with the refresh token, and fails once it is revoked', async () => {
    const identity = await loginAs(app, c.connector, 'alice');
    const first = identity.connectorData as { accessToken: string; refreshToken: string; expiresAt: number };
    expect(first.accessToken).toMatch(/^ghu_/);
    expect(first.refreshToken).toMatch(/^ghr_/);
    const refreshed = await c.connector.refresh!(ALL, JSON.parse(JSON.stringify(identity)));
    const second = refreshed.connectorData as typeof first;
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    // The rotated-away refresh token is spent.
    await expectConnectorError(c.connector.refresh!(ALL, JSON.parse(JSON.stringify(identity))), 'refresh_failed');
    app.revokeTokensOf('alice');
    await expectConnectorError(c.connector.refresh!(ALL, JSON.parse(JSON.stringify(refreshed))), 'refresh_failed');
    assertNotLogged(c.logger, [first.accessToken, first.refreshToken, second.accessToken, second.refreshToken]);
  });

  it('hands back the rotated token pair when the identity read after the swap fails, so the session survives', async () => {
    const identity = await loginAs(app, c.connector, 'dave');
    const first = identity.connectorData as { accessToken: string; refreshToken: string };
    app.setFault({ kind: 'serverError', status: 502, paths: ['/user'], times: 1 });
    const error = await c.connector.refresh!(ALL, JSON.parse(JSON.stringify(identity))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_unavailable' });
    const kept = (error as { connectorData?: { accessToken: string; refreshToken: string } }).connectorData;
    expect(kept?.refreshToken).toMatch(/^ghr_/);
    expect(kept?.refreshToken).not.toBe(first.refreshToken);
    // The stored token was spent by the failed refresh; the one handed back works once GitHub recovers.
    await expectConnectorError(c.connector.refresh!(ALL, JSON.parse(JSON.stringify(identity))), 'refresh_failed');
    const recovered = await c.connector.refresh!(ALL, JSON.parse(JSON.stringify({ ...identity, connectorData: kept })));
    expect(recovered.userId).toBe('1004');
    assertNotLogged(c.logger, [first.refreshToken, kept?.refreshToken ?? '', kept?.accessToken ?? '']);
  });

  it('attaches no connectorData when nothing was rotated before the failure', async () => {
    const identity = await loginAs(gh, o.connector, 'alice');
    gh.setFault({ kind: 'serverError', status: 502, paths: ['/user'], times: 1 });
    const error = await refresh(identity).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_unavailable', connectorData: undefined });
  });
});
