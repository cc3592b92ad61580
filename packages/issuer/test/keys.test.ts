import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import pino from 'pino';
import { MemoryStore } from '@gatehouse/storage';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startIssuer, type RunningIssuer } from '../src/index.ts';
import { startTestIssuer, testIssuerConfig, TEST_CLIENT } from '../src/testing/index.ts';
import { authorize, discover, redeem } from './helpers.ts';

async function jwks(issuer: RunningIssuer): Promise<string[]> {
  const res = await fetch(`${issuer.issuerURL}/keys`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { keys: Array<{ kid: string; d?: string; k?: string }> };
  for (const k of body.keys) {
    expect(k.d).toBeUndefined();
    expect(k.k).toBeUndefined();
  }
  return body.keys.map((k) => k.kid).sort();
}

describe('signing keys', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('rotation signs with a new key and keeps the old kid published', async () => {
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    const grants: string[] = [];
    issuer.provider.on('grant.success', () => grants.push('x'));
    const config = await discover(issuer);
    const before = await redeem(config, await authorize(config, 'openid'));
    const oldKid = decodeProtectedHeader(before.id_token!).kid!;
    expect(await jwks(issuer)).toEqual([oldKid]);

    await issuer.rotateKeys();
    const after = await redeem(config, await authorize(config, 'openid'));
    const newKid = decodeProtectedHeader(after.id_token!).kid!;
    expect(newKid).not.toBe(oldKid);
    expect(await jwks(issuer)).toEqual([oldKid, newKid].sort());
    // Listeners added to the provider follow it across the rebuild.
    expect(grants).toHaveLength(2);
    // Both tokens verify against the published set.
    const set = createRemoteJWKSet(new URL(`${issuer.issuerURL}/keys`));
    await jwtVerify(before.id_token!, set, { issuer: issuer.issuerURL, audience: TEST_CLIENT.id });
    await jwtVerify(after.id_token!, set, { issuer: issuer.issuerURL, audience: TEST_CLIENT.id });
    // The discovery document points at our /keys.
    expect(config.serverMetadata().jwks_uri).toBe(`${issuer.issuerURL}/keys`);
  });

  it('a logout id_token_hint signed by a retired key is still accepted; a forged one is not', async () => {
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    const config = await discover(issuer);
    const tokens = await redeem(config, await authorize(config, 'openid'));
    await issuer.rotateKeys();
    const postLogout = TEST_CLIENT.postLogoutRedirectURIs![0]!;
    const logout = (hint: string) =>
      fetch(
        `${issuer.issuerURL}/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: postLogout, state: 's' })}`,
        {
          headers: { accept: 'text/html' },
          redirect: 'manual',
        },
      );
    const ok = await logout(tokens.id_token!);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<form');
    // Same header and claims, wrong signature.
    const [h, p] = tokens.id_token!.split('.');
    const forged = await logout(`${h}.${p}.${Buffer.from('x'.repeat(256)).toString('base64url')}`);
    expect(forged.status).toBe(400);
  });

  it('signs with ES256 and EdDSA when configured, publishing one key per algorithm', async () => {
    const issuer = await startTestIssuer({ overrides: { signer: { algorithms: ['ES256', 'EdDSA'] } } });
    cleanup.push(() => issuer.close());
    const config = await discover(issuer);
    const tokens = await redeem(config, await authorize(config, 'openid'));
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    expect((await jwks(issuer)).length).toBe(2);
  });

  it('two issuers on one store agree on keys, also when both rotate at once', async () => {
    const store = new MemoryStore();
    const a = await startTestIssuer({ store });
    const b = await startTestIssuer({ store });
    cleanup.push(async () => {
      await a.close();
      await b.close();
      await store.close();
    });
    expect(await jwks(a)).toEqual(await jwks(b));
    await a.rotateKeys();
    // b re-reads: another replica rotated since it last looked, so it adopts those keys.
    await b.rotateKeys();
    expect(await jwks(b)).toEqual(await jwks(a));
    expect((await jwks(a)).length).toBe(2);
    await Promise.all([a.rotateKeys(), b.rotateKeys()]);
    expect(await jwks(b)).toEqual(await jwks(a));
    expect((await jwks(a)).length).toBe(3);
  });

  it('two issuers on one SQLite file share keys, logins and codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-issuer-'));
    const logger = pino({ level: 'silent' });
    const start = async () => {
      const port = await getFreePort();
      return startIssuer({
        config: testIssuerConfig(port, { overrides: { storage: { type: 'sqlite3', config: { file: 'issuer.db' } } } }),
        baseDir: dir,
        logger,
      });
    };
    const a = await start();
    const b = await start();
    cleanup.push(async () => {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    });
    expect(await jwks(a)).toEqual(await jwks(b));
    await a.rotateKeys();
    await b.rotateKeys();
    expect(await jwks(b)).toEqual(await jwks(a));
    // Tokens minted by replica a are known to replica b (the issuer URLs differ by port here, so
    // the check goes through b's introspection endpoint rather than a full client).
    const config = await discover(a);
    const tokens = await redeem(config, await authorize(config, 'openid offline_access'));
    const intro = await fetch(`${b.url}/dex/token/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: tokens.access_token }).toString(),
    });
    expect(((await intro.json()) as { active: boolean }).active).toBe(true);
  });
});

describe('replicas behind one issuer URL', () => {
  it('a login started on one replica finishes on another, and the code is redeemed on either', async () => {
    const store = new MemoryStore();
    const logger = pino({ level: 'silent' });
    const portA = await getFreePort();
    const portB = await getFreePort();
    const config = testIssuerConfig(portA);
    const a = await startIssuer({ config, store, logger });
    const b = await startIssuer({
      config: { ...config, web: { ...config.web, http: `127.0.0.1:${portB}` } },
      store,
      logger,
    });
    try {
      const { CookieJar } = await import('../src/testing/index.ts');
      const client = await import('openid-client');
      const rp = await discover(a);
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rp, {
        redirect_uri: TEST_CLIENT.redirectURIs[0]!,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'xr',
      });
      const jar = new CookieJar();
      // Replica a answers /auth and sets the interaction cookies...
      const first = await fetch(url, { redirect: 'manual' });
      jar.store(url.toString(), first);
      const interaction = new URL(first.headers.get('location')!, url);
      expect(interaction.port).toBe(String(portA));
      // ...the browser's next requests land on replica b (same cookies: a load balancer).
      const onB = (u: string) => u.replace(`:${portA}/`, `:${portB}/`);
      const fwd = async (u: string): Promise<string> => {
        const target = onB(u);
        const res = await fetch(target, { redirect: 'manual', headers: { cookie: jar.header(u) } });
        jar.store(u, res);
        const loc = res.headers.get('location');
        if (!loc) throw new Error(`stopped at ${target}: ${res.status} ${await res.text()}`);
        return new URL(loc, u).toString().replace(`:${portB}/`, `:${portA}/`);
      };
      let next = interaction.toString();
      while (!next.startsWith(TEST_CLIENT.redirectURIs[0]!)) next = await fwd(next);
      const code = new URL(next).searchParams.get('code');
      expect(code).toBeTruthy();
      const tokens = await client.authorizationCodeGrant(rp, new URL(next), {
        pkceCodeVerifier: verifier,
        expectedState: 'xr',
      });
      expect(tokens.claims()?.iss).toBe(a.issuerURL);
    } finally {
      await a.close();
      await b.close();
      await store.close();
    }
  });
});
