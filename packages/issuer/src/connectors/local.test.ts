import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '@gatehouse/storage';
import type { PasswordUser, Store } from '@gatehouse/storage';
import type { ConnectorContext } from '@gatehouse/connector-kit';
import { createMemoryLogger, expectConnectorError, runConnectorConformance } from '@gatehouse/connector-kit/testing';
import { localFactory, openLocalConnector } from './local.ts';
import { verifyPassword } from './password-hash.ts';
import type { LocalConfig } from './local.ts';

// A real SQLite store in a temp dir; the connector reads it through a handle the fault can swap.
const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-local-'));
const file = path.join(dir, 'store.db');
let store: Store = new SqliteStore(file);
const handle = { passwords: { get: (email: string) => store.passwords.get(email) } };
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const STORED: PasswordUser = {
  email: 'jane@example.com',
  hash: bcrypt.hashSync('jane-password', 10),
  username: 'jane',
  userId: '5d1f3e2a-0000-4000-8000-000000000001',
};
await store.passwords.upsert(STORED);

const STATIC: LocalConfig['staticPasswords'][number] = {
  email: 'admin@example.com',
  // Dex's example hash of "password".
  hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
  username: 'admin',
  userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
  emailVerified: true,
  groups: ['admins'],
};

const context = {
  logger: createMemoryLogger(),
  issuerURL: 'https://issuer.test/dex',
  callbackURL: 'https://issuer.test/dex/callback',
  store: handle,
} as ConnectorContext;

runConnectorConformance({
  name: 'local (password DB on SQLite)',
  factory: localFactory,
  config: { staticPasswords: [STATIC] },
  invalidConfigs: [
    { config: { staticPasswords: [{ ...STATIC, hash: 'plain' }] }, path: 'staticPasswords.0.hash' },
    { config: { other: 1 }, path: '' },
  ],
  context,
  password: { username: STORED.email, password: 'jane-password' },
  refresh: {
    removeUser: async () => store.passwords.delete(STORED.email),
    restoreUser: async () => store.passwords.upsert(STORED),
  },
  faults: [
    {
      name: 'the store is closed',
      set: async () => store.close(),
      clear: async () => {
        store = new SqliteStore(file);
      },
      operations: ['login'],
    },
  ],
});

describe('local connector', () => {
  const connector = openLocalConnector({ staticPasswords: [STATIC] }, handle);
  const scopes = { offlineAccess: true, groups: true };

  it('prompts for an email address', () => {
    expect(connector.prompt).toBe('Email Address');
  });

  it('logs in a static user, case-insensitively by email, with groups', async () => {
    const r = await connector.login(scopes, 'Admin@Example.COM', 'password');
    expect(r).toEqual({
      ok: true,
      identity: {
        userId: STATIC.userID,
        username: 'admin',
        email: 'admin@example.com',
        emailVerified: true,
        groups: ['admins'],
      },
    });
    expect(await connector.login(scopes, 'admin@example.com', 'Password')).toEqual({ ok: false });
  });

  it('logs in a stored user', async () => {
    const r = await connector.login(scopes, 'jane@example.com', 'jane-password');
    expect(r.ok && r.identity.userId).toBe(STORED.userId);
  });

  it('spends a bcrypt comparison on unknown users too', async () => {
    let calls = 0;
    const counted = openLocalConnector({ staticPasswords: [STATIC] }, handle, {
      verify: async (password, hash) => {
        calls += 1;
        return verifyPassword(password, hash);
      },
    });
    expect(await counted.login(scopes, 'nobody@example.com', 'whatever')).toEqual({ ok: false });
    expect(calls).toBe(1);
  });

  it('refuses a stored user whose hash is malformed or out of range, says which in the log, and spends the same time', async () => {
    const logger = createMemoryLogger();
    const c = openLocalConnector({ staticPasswords: [] }, handle, { logger });
    for (const hash of ['plain-text-password', STORED.hash.replace('$10$', '$31$')]) {
      await store.passwords.upsert({ ...STORED, email: 'broken@example.com', hash });
      logger.records.length = 0;
      const t0 = performance.now();
      expect(await c.login(scopes, 'broken@example.com', 'jane-password')).toEqual({ ok: false });
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(logger.records).toEqual([
        expect.objectContaining({ level: 'error', obj: { email: 'broken@example.com', code: 'malformed_hash' } }),
      ]);
      expect(JSON.stringify(logger.records)).not.toContain(hash);
    }
    await store.passwords.delete('broken@example.com');
  });

  it('serves 16 concurrent logins of the same users correctly', async () => {
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        i % 2 === 0
          ? connector.login(scopes, 'jane@example.com', 'jane-password')
          : connector.login(scopes, 'admin@example.com', 'wrong'),
      ),
    );
    results.forEach((r, i) => expect(r.ok).toBe(i % 2 === 0));
  });

  it('fails refresh when the user was recreated with another userID', async () => {
    const identity = { userId: STORED.userId, username: 'jane', email: STORED.email };
    await store.passwords.upsert({ ...STORED, userId: 'another-id' });
    try {
      await expectConnectorError(connector.refresh(scopes, identity), 'refresh_failed');
    } finally {
      await store.passwords.upsert(STORED);
    }
    const refreshed = await connector.refresh(scopes, identity);
    expect(refreshed.userId).toBe(STORED.userId);
  });

  it('fails refresh for an identity without an email', async () => {
    await expectConnectorError(connector.refresh(scopes, { userId: 'x', username: 'x' }), 'refresh_failed');
  });

  it('works without a store (static users only)', async () => {
    const c = openLocalConnector({ staticPasswords: [STATIC] }, undefined);
    expect((await c.login(scopes, 'admin@example.com', 'password')).ok).toBe(true);
    expect(await c.login(scopes, 'jane@example.com', 'jane-password')).toEqual({ ok: false });
  });
});
