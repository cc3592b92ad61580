/**
 * Public native clients (mobile apps, kubectl oidc-login) with a private-use scheme redirect URI
 * next to a loopback one: both work through the same client, matching stays exact, and a store
 * client whose URIs oidc-provider would refuse is skipped (logged) without touching the others.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { MemoryStore } from '@gatehouse/storage';
import type { RunningIssuer } from '../src/index.ts';
import { browse, CookieJar, formAction, startTestIssuer, TEST_CLIENT } from '../src/testing/index.ts';
import {
  authorizationRequest,
  authorize,
  discover,
  isAuthorization,
  redeem,
  REDIRECT,
  tryAuthorize,
} from './helpers.ts';

const APP = 'com.example.app:/oauth2redirect';
const LOOPBACK = 'http://127.0.0.1:8000/cb';
const APP_LOGOUT = 'com.example.app:/logout';
const MOBILE = {
  id: 'mobile',
  public: true,
  name: 'Mobile',
  redirectURIs: [APP, LOOPBACK],
  postLogoutRedirectURIs: [APP_LOGOUT],
  trustedPeers: [],
};

describe('public native clients', () => {
  let issuer: RunningIssuer;
  const store = new MemoryStore();
  const logLines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    issuer = await startTestIssuer({
      store,
      staticClients: [TEST_CLIENT, MOBILE],
      logger: pino({ level: 'warn' }, sink),
    });
  });
  afterAll(async () => {
    await issuer?.close();
    await store.close();
  });

  it('logs in through a private-use scheme redirect and a loopback one of the same public client', async () => {
    const config = await discover(issuer, MOBILE.id, null);
    for (const redirectURI of [APP, LOOPBACK]) {
      const a = await authorize(config, 'openid email', { redirectURI });
      expect(a.callback.href.startsWith(`${redirectURI}?`), a.callback.href).toBe(true);
      const tokens = await redeem(config, a);
      expect(tokens.claims()?.aud).toBe(MOBILE.id);
    }
  });

  it('matches redirect URIs exactly: no other loopback port, path or scheme', async () => {
    const config = await discover(issuer, MOBILE.id, null);
    for (const redirectURI of [
      'http://127.0.0.1:9999/cb',
      'http://127.0.0.1:8000/other',
      'com.example.app:/other',
      'com.evil.app:/oauth2redirect',
    ]) {
      const o = await tryAuthorize(config, 'openid', { redirectURI });
      expect(isAuthorization(o), redirectURI).toBe(false);
      expect(o).toMatchObject({ status: 400 });
    }
  });

  it('ends a session at a private-use scheme post-logout URI', async () => {
    const jar = new CookieJar();
    const url = new URL(`${issuer.issuerURL}/logout`);
    url.search = new URLSearchParams({
      client_id: MOBILE.id,
      post_logout_redirect_uri: APP_LOGOUT,
      state: 'bye',
    }).toString();
    const page = await browse(jar, url.toString());
    expect(page.status).toBe(200);
    const hidden = Object.fromEntries(
      [...page.body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    const done = await browse(jar, formAction(page), { form: hidden, stopAt: 'com.example.app:' });
    expect(done.location).toBe(`${APP_LOGOUT}?state=bye`);
  });

  it('skips a store client with javascript:/data:/custom-scheme URIs (logged), other clients unaffected', async () => {
    await store.clients.upsert({
      id: 'evil-app',
      secret: 'evil-app-secret-long-enough',
      redirectURIs: [REDIRECT, 'javascript://127.0.0.1/%0aalert(document.domain)', 'data:text/html,hi'],
    });
    await store.clients.upsert({
      id: 'confidential-native',
      secret: 'confidential-native-secret',
      redirectURIs: ['com.example.app:/cb'],
    });
    await store.clients.upsert({
      id: 'store-mobile',
      public: true,
      redirectURIs: ['com.example.store:/cb', 'http://[::1]:7000/cb'],
    });
    await store.clients.upsert({ id: 'store-web', secret: 'store-web-secret-long-enough', redirectURIs: [REDIRECT] });

    for (const id of ['evil-app', 'confidential-native']) {
      const request = await authorizationRequest(await discover(issuer, TEST_CLIENT.id), 'openid', {
        extra: { client_id: id },
      });
      const r = await browse(new CookieJar(), request.url.toString(), { stopAt: REDIRECT });
      expect(r.location, id).toBeUndefined();
      expect(r.status, id).toBe(400);
      expect(r.body).toContain('invalid_client');
    }
    const warned = logLines
      .map((l) => JSON.parse(l) as { msg?: string; client?: string; problems?: string[] })
      .filter((l) => l.msg?.includes('client from the store ignored'));
    expect(warned.map((l) => l.client).sort()).toEqual(['confidential-native', 'evil-app']);
    expect(warned.find((l) => l.client === 'evil-app')?.problems).toEqual([
      'redirectURIs[1]: the javascript: scheme is never allowed',
      'redirectURIs[2]: the data: scheme is never allowed',
    ]);
    expect(JSON.stringify(warned)).not.toContain('secret-long-enough');

    // The same bad client looked up again is not logged again.
    await browse(
      new CookieJar(),
      `${issuer.issuerURL}/auth?client_id=evil-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}`,
    );
    expect(logLines.filter((l) => l.includes('"evil-app"')).length).toBe(1);

    const web = await discover(issuer, 'store-web', 'store-web-secret-long-enough');
    expect((await redeem(web, await authorize(web, 'openid'))).claims()?.aud).toBe('store-web');
    const mobile = await discover(issuer, 'store-mobile', null);
    for (const redirectURI of ['com.example.store:/cb', 'http://[::1]:7000/cb']) {
      expect((await redeem(mobile, await authorize(mobile, 'openid', { redirectURI }))).claims()?.aud).toBe(
        'store-mobile',
      );
    }
    const stat = await discover(issuer, MOBILE.id, null);
    expect((await redeem(stat, await authorize(stat, 'openid', { redirectURI: APP }))).claims()?.aud).toBe(MOBILE.id);
  });
});
