import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { ConnectorError, type ConnectorFactory } from '@gatehouse/connector-kit';
import { MemoryStore, SqliteStore, type Store } from '@gatehouse/storage';
import { startTestIssuer, TEST_CLIENT } from '../src/testing/index.ts';
import { authorize, bouncingCallbackFactory, discover, postForm, redeem, REDIRECT } from './helpers.ts';

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe.each([
  ['memory (watch)', () => new MemoryStore() as Store],
  [
    'sqlite (read per lookup)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-clients-'));
      cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
      return new SqliteStore(join(dir, 'db.sqlite')) as Store;
    },
  ],
])('clients managed at run time, %s', (_name, makeStore) => {
  it('a client applied at run time works at once, a deleted one stops, static ones win', async () => {
    const store = makeStore();
    const issuer = await startTestIssuer({ store });
    cleanup.push(async () => {
      await issuer.close();
      await store.close();
    });
    await store.clients.upsert({
      id: 'runtime-app',
      secret: 'runtime-app-secret-long-enough',
      redirectURIs: [REDIRECT],
      name: 'Runtime',
    });
    // Same id as the static client, different secret: the static one wins.
    await store.clients.upsert({
      id: TEST_CLIENT.id,
      secret: 'hijacked-secret-long-enough',
      redirectURIs: ['https://evil.example/cb'],
    });
    const config = await discover(issuer, 'runtime-app', 'runtime-app-secret-long-enough');
    const tokens = await redeem(config, await authorize(config, 'openid email'));
    expect(tokens.claims()!.aud).toBe('runtime-app');
    const hijack = await postForm(
      `${issuer.issuerURL}/token`,
      { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT },
      [TEST_CLIENT.id, 'hijacked-secret-long-enough'],
    );
    expect(hijack.json?.error).toBe('invalid_client');

    await store.clients.delete('runtime-app');
    const gone = await postForm(
      `${issuer.issuerURL}/token`,
      { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT },
      ['runtime-app', 'runtime-app-secret-long-enough'],
    );
    expect([gone.status, gone.json?.error]).toEqual([401, 'invalid_client']);
  });
});

/** A callback connector whose upstream refresh can be switched off. */
function switchableFactory(state: { refreshOK: boolean }): ConnectorFactory {
  return bouncingCallbackFactory('switchable', {
    async handleCallback() {
      return {
        userId: 'u-1',
        username: 'user one',
        email: 'one@example.com',
        emailVerified: true,
        connectorData: { upstream: 'rt-1' },
      };
    },
    async refresh(_s, identity) {
      if (!state.refreshOK) throw new ConnectorError('refresh_failed', 'upstream revoked');
      const prev = (identity.connectorData as { upstream: string }).upstream;
      return { ...identity, email: 'one+refreshed@example.com', connectorData: { upstream: `${prev}+` } };
    },
  });
}

describe('refresh goes upstream', () => {
  it('re-checks the user with the connector; a connector failure is invalid_grant', async () => {
    const state = { refreshOK: true };
    const store = new MemoryStore();
    const issuer = await startTestIssuer({
      store,
      connectors: [{ type: 'switchable', id: 'sw', name: 'Switchable', config: {} }],
      connectorFactories: [switchableFactory(state)],
    });
    cleanup.push(async () => {
      await issuer.close();
      await store.close();
    });
    const config = await discover(issuer);
    const tokens = await redeem(config, await authorize(config, 'openid email offline_access'));
    expect(tokens.claims()!.email).toBe('one@example.com');
    expect((await store.offlineSessions.get('u-1', 'sw'))?.connectorData).toEqual({ upstream: 'rt-1' });
    const r1 = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(r1.claims()!.email).toBe('one+refreshed@example.com');
    expect((await store.offlineSessions.get('u-1', 'sw'))?.connectorData).toEqual({ upstream: 'rt-1+' });
    const info = await client.fetchUserInfo(config, r1.access_token, r1.claims()!.sub);
    expect(info.email).toBe('one+refreshed@example.com');
    state.refreshOK = false;
    await expect(client.refreshTokenGrant(config, r1.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('no refresh token when the connector cannot refresh', async () => {
    const noRefresh: ConnectorFactory = {
      ...switchableFactory({ refreshOK: true }),
      type: 'norefresh',
      open: async (id, cfg, ctx) => {
        const c = await switchableFactory({ refreshOK: true }).open(id, cfg, ctx);
        delete (c as { refresh?: unknown }).refresh;
        return c;
      },
    };
    const issuer = await startTestIssuer({
      connectors: [{ type: 'norefresh', id: 'nr', name: 'No refresh', config: {} }],
      connectorFactories: [noRefresh],
    });
    cleanup.push(() => issuer.close());
    const config = await discover(issuer);
    const tokens = await redeem(config, await authorize(config, 'openid offline_access'));
    expect(tokens.refresh_token).toBeUndefined();
  });
});

describe('telemetry, headers and proxies', () => {
  it('counts logins and issued tokens on the telemetry listener', async () => {
    const issuer = await startTestIssuer({ overrides: { telemetry: { http: '127.0.0.1:0' } } });
    cleanup.push(() => issuer.close());
    expect(issuer.telemetryURL).toBeDefined();
    const config = await discover(issuer);
    await redeem(config, await authorize(config, 'openid'));
    const metrics = await (await fetch(`${issuer.telemetryURL}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_logins_total\{connector="mock",result="success"\} 1/);
    expect(metrics).toMatch(/gatehouse_tokens_issued_total\{grant_type="authorization_code"\} 1/);
    expect((await fetch(`${issuer.telemetryURL}/readyz`)).status).toBe(200);
  });

  it('sends configured headers; X-Forwarded-Host/Proto never change endpoint URLs', async () => {
    const untrusted = await startTestIssuer({
      overrides: { web: { headers: { 'Strict-Transport-Security': 'max-age=31536000' } } } as never,
    });
    cleanup.push(() => untrusted.close());
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'login.example.com' };
    const plain = await fetch(`${untrusted.issuerURL}/.well-known/openid-configuration`, { headers: forwarded });
    expect(plain.headers.get('strict-transport-security')).toBe('max-age=31536000');
    expect(((await plain.json()) as { token_endpoint: string }).token_endpoint).toBe(`${untrusted.issuerURL}/token`);

    const trusted = await startTestIssuer({ overrides: { web: { trustedProxies: ['127.0.0.0/8'] } } as never });
    cleanup.push(() => trusted.close());
    const viaProxy = await fetch(`${trusted.issuerURL}/.well-known/openid-configuration`, { headers: forwarded });
    // Even from a trusted proxy, endpoint URLs are the configured issuer's (only X-Forwarded-For counts).
    expect(((await viaProxy.json()) as { token_endpoint: string }).token_endpoint).toBe(`${trusted.issuerURL}/token`);
  });
});

describe('TLS listener', () => {
  it('serves over web.https with the configured certificate, with Secure cookies', async () => {
    const { createTestCA } = await import('@gatehouse/testkit/tls');
    const { writeFileSync } = await import('node:fs');
    const https = await import('node:https');
    const { getFreePort } = await import('@gatehouse/testkit/ports');
    const { startIssuer } = await import('../src/index.ts');
    const { testIssuerConfig } = await import('../src/testing/index.ts');
    const pino = (await import('pino')).default;
    const ca = await createTestCA();
    const leaf = await ca.issue(['127.0.0.1']);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'tls.crt'), leaf.cert);
    writeFileSync(join(dir, 'tls.key'), leaf.key);
    const port = await getFreePort();
    const base = testIssuerConfig(port);
    const issuer = await startIssuer({
      config: {
        ...base,
        issuer: `https://127.0.0.1:${port}/dex`,
        web: { ...base.web, http: undefined, https: `127.0.0.1:${port}`, tlsCert: 'tls.crt', tlsKey: 'tls.key' },
      },
      baseDir: dir,
      logger: pino({ level: 'silent' }),
    });
    cleanup.push(() => issuer.close());
    expect(issuer.url).toBe(`https://127.0.0.1:${port}`);
    const get = (path: string) =>
      new Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>(
        (resolve, reject) => {
          https
            .get(`${issuer.issuerURL}${path}`, { ca: ca.caCert, headers: { accept: 'text/html' } }, (res) => {
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
            })
            .on('error', reject);
        },
      );
    const discovery = await get('/.well-known/openid-configuration');
    expect(discovery.status).toBe(200);
    expect(JSON.parse(discovery.body).token_endpoint).toBe(`${issuer.issuerURL}/token`);
    const auth = await get(
      `/auth?client_id=${TEST_CLIENT.id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`,
    );
    expect(auth.status).toBe(303);
    const cookies = auth.headers['set-cookie'] as string[];
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) expect(c.toLowerCase()).toContain('secure');
  });
});

describe('connectors managed at run time', () => {
  it('a connector applied to the store is usable at once; a deleted one is gone; configured ones win', async () => {
    const store = new MemoryStore();
    await store.connectors.upsert({ id: 'early', type: 'mockCallback', name: 'Early', config: {} });
    const issuer = await startTestIssuer({ store });
    cleanup.push(async () => {
      await issuer.close();
      await store.close();
    });
    const config = await discover(issuer);
    const { browse, CookieJar } = await import('../src/testing/index.ts');
    const outcome = async (connectorId: string) => {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid federated:id',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 's',
        connector_id: connectorId,
      });
      const page = await browse(new CookieJar(), url.toString(), { stopAt: REDIRECT });
      const params = new URL(page.location!).searchParams;
      return params.get('error') ?? 'code';
    };
    const eventually = async (connectorId: string, expected: string) => {
      for (let i = 0; i < 50 && (await outcome(connectorId)) !== expected; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await outcome(connectorId)).toBe(expected);
    };
    expect(await outcome('early')).toBe('code');
    await store.connectors.upsert({ id: 'late', type: 'mockCallback', name: 'Late', config: {} });
    await eventually('late', 'code');
    await store.connectors.delete('late');
    await eventually('late', 'invalid_request');
    // A run-time record cannot replace the configured `mock` connector.
    await store.connectors.upsert({ id: 'mock', type: 'no-such-type', name: 'Hijack', config: {} });
    expect(await outcome('mock')).toBe('code');
  });
});
