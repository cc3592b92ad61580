/**
 * Secrets at rest through a real issuer: GitHub login (approval page on, so the Interaction holds
 * the identity with its connectorData), refresh and signing-key rotation with
 * `GATEHOUSE_STORAGE_KEY` set. Every write reaching the inner store is recorded; none may carry a
 * private signing-key member or a GitHub token. Then the storage key is rotated across restarts.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '@gatehouse/storage';
import type { KeyStore, ModelName, ModelStore, OfflineSessionStore, SigningKeySet, Store } from '@gatehouse/storage';
import { startFakeGitHub, type FakeGitHub } from '@gatehouse/testkit/github';
import { getFreePort } from '@gatehouse/testkit/ports';
import type { RunningIssuer } from '../src/index.ts';
import { startIssuer } from '../src/server/start.ts';
import { testIssuerConfig, testOAuth2 } from '../src/testing/index.ts';
import { discover, isAuthorization, redeem, tryAuthorize } from './helpers.ts';

const GH_CLIENT = { clientId: 'gatehouse-github-app', clientSecret: 'gatehouse-github-app-secret' };
const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64url');

/** The backend as the issuer sees it, recording every value written (as JSON). */
class RecordingStore implements Store {
  readonly written: string[] = [];
  readonly inner: MemoryStore;
  readonly type: string;
  readonly keys: KeyStore;
  readonly offlineSessions: OfflineSessionStore;
  readonly clients: Store['clients'];
  readonly connectors: Store['connectors'];
  readonly passwords: Store['passwords'];

  constructor(inner: MemoryStore, type = inner.type) {
    this.inner = inner;
    this.type = type;
    const rec = (v: unknown) => this.written.push(JSON.stringify(v));
    this.keys = {
      get: () => inner.keys.get(),
      compareAndSwap: (version, next) => {
        rec(next);
        return inner.keys.compareAndSwap(version, next);
      },
    };
    this.offlineSessions = {
      get: (u, c) => inner.offlineSessions.get(u, c),
      upsert: (s) => {
        rec(s);
        return inner.offlineSessions.upsert(s);
      },
      delete: (u, c) => inner.offlineSessions.delete(u, c),
    };
    this.clients = inner.clients;
    this.connectors = inner.connectors;
    this.passwords = inner.passwords;
  }

  model(name: ModelName): ModelStore {
    const m = this.inner.model(name);
    return {
      upsert: (id, payload, expiresIn) => {
        this.written.push(JSON.stringify(payload));
        return m.upsert(id, payload, expiresIn);
      },
      find: (id) => m.find(id),
      findByUid: (uid) => m.findByUid(uid),
      findByUserCode: (code) => m.findByUserCode(code),
      consume: (id) => m.consume(id),
      destroy: (id) => m.destroy(id),
      revokeByGrantId: (g) => m.revokeByGrantId(g),
    };
  }
  gc(now?: Date) {
    return this.inner.gc(now);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return Promise.resolve();
  }
}

let gh: FakeGitHub;
const backend = new MemoryStore();
const recording = new RecordingStore(backend);

async function start(
  storageKey: string | undefined,
  store: Store = recording,
  logger = pino({ level: 'silent' }),
): Promise<RunningIssuer> {
  const port = await getFreePort();
  const config = testIssuerConfig(port, {
    connectors: [
      {
        type: 'github',
        id: 'github',
        name: 'GitHub',
        config: {
          clientID: GH_CLIENT.clientId,
          clientSecret: GH_CLIENT.clientSecret,
          apiURL: gh.apiURL,
          oauthURL: gh.url,
          requestTimeout: '3s',
        },
      },
    ],
    overrides: { oauth2: testOAuth2({ skipApprovalScreen: false }) },
  });
  const issuer = await startIssuer({ config, logger, store, ...(storageKey !== undefined ? { storageKey } : {}) });
  gh.registerClient({ ...GH_CLIENT, callbackURL: `${issuer.issuerURL}/callback` });
  return issuer;
}

/** Secrets the issuer holds now, read through its own (sealing) store. */
async function secretsOf(issuer: RunningIssuer): Promise<string[]> {
  const out: string[] = [];
  const keys = (await issuer.store.keys.get())!.keys as SigningKeySet;
  for (const jwk of keys.signing)
    for (const m of ['d', 'p', 'q', 'k']) if (typeof jwk[m] === 'string') out.push(jwk[m]);
  const session = await issuer.store.offlineSessions.get('501', 'github');
  const data = session?.connectorData as { accessToken?: string; refreshToken?: string } | undefined;
  if (!data?.accessToken || !data.refreshToken) throw new Error('no GitHub tokens in the offline session');
  out.push(data.accessToken, data.refreshToken);
  return out;
}

beforeAll(async () => {
  gh = await startFakeGitHub({
    users: [
      {
        id: 501,
        login: 'alice',
        name: 'Alice',
        emails: [{ email: 'alice@acme.example', verified: true, primary: true }],
      },
    ],
    clients: [],
    // Inside the connector's renewal margin: every refresh swaps the GitHub token pair.
    tokenLifetimeSeconds: 30,
  });
});

afterAll(async () => {
  await gh?.close();
  await backend.close();
});

describe('secrets at rest through the issuer', () => {
  it('login, refresh and key rotation work, and no private key or GitHub token reaches the store', async () => {
    const seen = new Set<string>();
    let issuer = await start(KEY_A);
    let refreshToken: string;
    try {
      const rp = await discover(issuer);
      gh.signIn('alice');
      const a = await tryAuthorize(rp, 'openid email offline_access');
      if (!isAuthorization(a)) throw new Error(`login stopped at ${a.status}: ${a.body.slice(0, 300)}`);
      const tokens = await redeem(rp, a);
      expect(tokens.claims()?.['email']).toBe('alice@acme.example');
      refreshToken = tokens.refresh_token!;
      for (const s of await secretsOf(issuer)) seen.add(s);

      const refreshed = await client.refreshTokenGrant(rp, refreshToken);
      expect(refreshed.claims()?.['email']).toBe('alice@acme.example');
      refreshToken = refreshed.refresh_token!;
      for (const s of await secretsOf(issuer)) seen.add(s);

      await issuer.rotateKeys();
      const afterRotation = await client.refreshTokenGrant(rp, refreshToken);
      expect(afterRotation.claims()?.['sub']).toBe(tokens.claims()?.['sub']);
      refreshToken = afterRotation.refresh_token!;
      for (const s of await secretsOf(issuer)) seen.add(s);
    } finally {
      await issuer.close();
    }

    // The Interaction (approval page), the offline session and the key set were all written.
    const log = recording.written.join('\n');
    expect(log).toMatch(/"gatehouse":\{"\$sealed":"v1\./); // the Interaction's login state (approval page)
    expect(seen.size).toBeGreaterThanOrEqual(8);
    for (const s of seen) expect(log).not.toContain(s);

    // Storage key rotation: B seals, A still opens; the refresh token issued above keeps working.
    issuer = await start(`${KEY_B},${KEY_A}`);
    try {
      const rp = await discover(issuer);
      const r = await client.refreshTokenGrant(rp, refreshToken);
      refreshToken = r.refresh_token!;
      await issuer.rotateKeys(); // rewrites the key set (sealed with B)
      for (const s of await secretsOf(issuer)) seen.add(s);
    } finally {
      await issuer.close();
    }
    // Once everything was rewritten, A can go.
    issuer = await start(KEY_B);
    try {
      const rp = await discover(issuer);
      const r = await client.refreshTokenGrant(rp, refreshToken);
      expect(r.claims()?.['email']).toBe('alice@acme.example');
      for (const s of await secretsOf(issuer)) seen.add(s);
    } finally {
      await issuer.close();
    }
    const all = recording.written.join('\n');
    for (const s of seen) expect(all).not.toContain(s);
  });

  it('a malformed GATEHOUSE_STORAGE_KEY stops start-up naming the variable, never the value', async () => {
    const bad = randomBytes(20).toString('base64');
    const error = await start(`${KEY_A},${bad}`, new MemoryStore()).then(
      async (issuer) => {
        await issuer.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^GATEHOUSE_STORAGE_KEY: entry 2 is not 32 bytes/);
    expect((error as Error).message).not.toContain(bad);
    expect((error as Error).message).not.toContain(KEY_A);
  });

  it('warns once at start-up when a Kubernetes store has no key, not for memory', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    for (const type of ['kubernetes', 'memory']) {
      const store = new RecordingStore(new MemoryStore(), type);
      const issuer = await start('', store, logger);
      await issuer.close();
      await store.inner.close();
    }
    const warnings = lines.filter((l) => l.includes('GATEHOUSE_STORAGE_KEY'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"level":40');
  });
});
