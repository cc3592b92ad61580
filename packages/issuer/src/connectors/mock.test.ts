import { describe, expect, it } from 'vitest';
import { expectConnectorError } from '@gatehouse/connector-kit/testing';
import type { CallbackRequest } from '@gatehouse/connector-kit';
import { KILGORE_TROUT, mockCallbackFactory, mockPasswordFactory, openMockCallback, openMockPassword } from './mock.ts';

const scopes = { offlineAccess: true, groups: true };
const callbackURL = 'https://issuer.test/dex/callback';
/** The browser following the login URL: the mock's "upstream" is the issuer's own callback. */
const follow = (url: string): CallbackRequest => ({ url: new URL(url), method: 'GET' });
const viaStore = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('mockCallback', () => {
  const c = openMockCallback();

  it('sends the browser to the callback with the state and a one-time code', async () => {
    const r = await c.loginURL(scopes, callbackURL, 'state-123');
    const u = new URL(r.url);
    expect(`${u.origin}${u.pathname}`).toBe(callbackURL);
    expect(u.searchParams.get('state')).toBe('state-123');
    expect(u.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const again = await c.loginURL(scopes, callbackURL, 'state-123');
    expect(new URL(again.url).searchParams.get('code')).not.toBe(u.searchParams.get('code'));
  });

  it("returns Dex's Kilgore Trout for the matching callback", async () => {
    const r = await c.loginURL(scopes, callbackURL, 's1');
    const identity = await c.handleCallback(scopes, viaStore(r.keep), follow(r.url));
    expect(identity).toEqual({
      userId: '0-385-28089-0',
      username: 'Kilgore Trout',
      email: 'kilgore@kilgore.trout',
      emailVerified: true,
      groups: ['authors'],
    });
  });

  it("refuses another login's callback, a forged state, a wrong code and missing kept data", async () => {
    const a = await c.loginURL(scopes, callbackURL, 'state-a');
    const b = await c.loginURL(scopes, callbackURL, 'state-b');
    await expectConnectorError(c.handleCallback(scopes, viaStore(b.keep), follow(a.url)), 'invalid_state');
    const forged = new URL(a.url);
    forged.searchParams.set('state', 'state-b');
    await expectConnectorError(c.handleCallback(scopes, viaStore(a.keep), follow(forged.href)), 'invalid_state');
    const wrongCode = new URL(a.url);
    wrongCode.searchParams.set('code', 'guess');
    await expectConnectorError(c.handleCallback(scopes, viaStore(a.keep), follow(wrongCode.href)), 'invalid_state');
    const noState = new URL(a.url);
    noState.searchParams.delete('state');
    await expectConnectorError(c.handleCallback(scopes, viaStore(a.keep), follow(noState.href)), 'invalid_state');
    await expectConnectorError(c.handleCallback(scopes, undefined, follow(a.url)), 'invalid_state');
    await expectConnectorError(c.handleCallback(scopes, { state: 1 }, follow(a.url)), 'invalid_state');
    // The genuine callback still works after the refusals.
    expect((await c.handleCallback(scopes, viaStore(a.keep), follow(a.url))).userId).toBe(KILGORE_TROUT.userId);
  });

  it('maps an error redirect to access_denied', async () => {
    const r = await c.loginURL(scopes, callbackURL, 's2');
    const u = new URL(callbackURL);
    u.searchParams.set('state', 's2');
    u.searchParams.set('error', 'access_denied');
    await expectConnectorError(c.handleCallback(scopes, viaStore(r.keep), follow(u.href)), 'access_denied');
  });

  it('refreshes, keeping connectorData', async () => {
    const refreshed = await c.refresh(scopes, { ...KILGORE_TROUT, connectorData: { n: 1 } });
    expect(refreshed).toMatchObject({ userId: KILGORE_TROUT.userId, connectorData: { n: 1 } });
  });

  it('has an empty, strict config', () => {
    expect(mockCallbackFactory.configSchema.safeParse({}).success).toBe(true);
    expect(mockCallbackFactory.configSchema.safeParse({ x: 1 }).success).toBe(false);
  });
});

describe('mockPassword', () => {
  const c = openMockPassword({ username: 'kilgore', password: 'trout-password' });

  it('accepts exactly the configured username and password', async () => {
    const ok = await c.login(scopes, 'kilgore', 'trout-password');
    expect(ok.ok && ok.identity.userId).toBe('0-385-28089-0');
    expect(await c.login(scopes, 'kilgore', 'trout-passwor')).toEqual({ ok: false });
    expect(await c.login(scopes, 'kilgore', '')).toEqual({ ok: false });
    expect(await c.login(scopes, 'Kilgore', 'trout-password')).toEqual({ ok: false });
    expect(await c.login(scopes, '', '')).toEqual({ ok: false });
  });

  it('requires username and password in its config', () => {
    const r = mockPasswordFactory.configSchema.safeParse({ username: 'x' });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join('.'))).toEqual(['password']);
  });

  it('refreshes', async () => {
    expect((await c.refresh(scopes, { userId: '0-385-28089-0', username: 'x' })).email).toBe('kilgore@kilgore.trout');
  });
});
