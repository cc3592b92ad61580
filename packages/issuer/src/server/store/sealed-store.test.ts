import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryStore, StoreError } from '@gatehouse/storage';
import type { ModelPayload, SigningKeySet } from '@gatehouse/storage';
import { runStoreConformance } from '@gatehouse/storage/conformance';
import { KeyManager } from '../keys/key-manager.ts';
import { parseStorageKeys, SealedStore, SEALED_MEMBER, StorageKeyError } from './sealed-store.ts';

const newKey = (): string => randomBytes(32).toString('base64');
const KEY_A = newKey();
const KEY_B = newKey();

runStoreConformance('sealed memory', async () => new SealedStore(new MemoryStore(), KEY_A), { shared: false });

/** The signing key set a KeyManager writes (RS256 + ES256 + the cookie secret). */
async function writeKeys(store: SealedStore): Promise<KeyManager> {
  const keys = new KeyManager({
    store: store.keys,
    algorithms: ['RS256', 'ES256'],
    rotationPeriod: 3600,
    verificationPeriod: 600,
  });
  await keys.refresh();
  return keys;
}

function privateValues(set: SigningKeySet): string[] {
  const out: string[] = [];
  for (const jwk of set.signing)
    for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) if (typeof jwk[m] === 'string') out.push(jwk[m]);
  return out;
}

const interactionPayload = (id: string, refreshToken: string): ModelPayload => ({
  jti: id,
  kind: 'Interaction',
  uid: `uid-${id}`,
  exp: Math.floor(Date.now() / 1000) + 600,
  params: { client_id: 'app' },
  result: {
    login: { accountId: 'sub-1' },
    gatehouse: {
      connectorId: 'github',
      keep: { verifier: 'pkce-verifier' },
      identity: { userId: '1', username: 'a', connectorData: { refreshToken } },
    },
  },
});

describe('parseStorageKeys', () => {
  it('reads comma-separated base64 and base64url keys; unset or empty means none', () => {
    const url = randomBytes(32).toString('base64url');
    expect(parseStorageKeys(`${KEY_A}, ${url} ,${KEY_B}\n`)).toHaveLength(3);
    expect(parseStorageKeys(undefined)).toEqual([]);
    expect(parseStorageKeys('  ')).toEqual([]);
  });

  it('names the variable and the bad entries, never the value', () => {
    const short = randomBytes(16).toString('base64');
    const cases = [short, `${KEY_A},`, `${KEY_A},not base64!`, `${KEY_A}${KEY_A}`];
    for (const value of cases) {
      let error: unknown;
      try {
        parseStorageKeys(value);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(StorageKeyError);
      const message = (error as Error).message;
      expect(message).toContain('GATEHOUSE_STORAGE_KEY');
      expect(message).not.toContain(KEY_A);
      expect(message).not.toContain(short);
    }
    expect(() => parseStorageKeys(`${KEY_A},${KEY_A.slice(1)}`)).toThrow(/entry 2 is/);
  });
});

describe('SealedStore', () => {
  it('keeps no private key member in the inner store, and gives the keys back whole', async () => {
    const inner = new MemoryStore();
    const store = new SealedStore(inner, KEY_A);
    const manager = await writeKeys(store);
    const opened = (await store.keys.get())!;
    const secrets = privateValues(opened.keys);
    expect(secrets.length).toBeGreaterThanOrEqual(3); // RSA d.., EC d, cookie k
    const raw = (await inner.keys.get())!;
    expect(raw.version).toBe(opened.version);
    const rawJSON = JSON.stringify(raw);
    for (const s of secrets) expect(rawJSON).not.toContain(s);
    for (const jwk of raw.keys.signing) {
      // kid/alg/kty and the public members stay readable (CRD columns, JWKS).
      expect(jwk).toMatchObject({ kid: expect.any(String), alg: expect.any(String), kty: expect.any(String) });
      expect(jwk).not.toHaveProperty('d');
      expect(jwk).not.toHaveProperty('k');
      expect(jwk[SEALED_MEMBER]).toMatch(/^v1\./);
    }
    expect(raw.keys.signing.find((k) => k.kty === 'RSA')).toHaveProperty('n');
    // The provider gets usable private keys; rotation through the wrapper keeps working.
    expect(manager.providerJWKS().keys.every((k) => typeof k.d === 'string')).toBe(true);
    expect(await manager.rotate()).toBe(true);
    const rotated = (await store.keys.get())!;
    expect(rotated.keys.retired.length).toBe(2);
    expect(JSON.stringify(await inner.keys.get())).not.toContain(privateValues(rotated.keys)[0]);
    await store.close();
  });

  it('seals offline-session connectorData and the Interaction login state, leaving indexed fields alone', async () => {
    const inner = new MemoryStore();
    const store = new SealedStore(inner, KEY_A);
    const token = `ghr_${randomBytes(30).toString('base64url')}`;
    await store.offlineSessions.upsert({
      userId: 'u1',
      connectorId: 'github',
      connectorData: { refreshToken: token },
      updatedAt: 1,
    });
    expect((await store.offlineSessions.get('u1', 'github'))?.connectorData).toEqual({ refreshToken: token });
    const rawSession = await inner.offlineSessions.get('u1', 'github');
    expect(JSON.stringify(rawSession)).not.toContain(token);
    expect(rawSession).toMatchObject({ userId: 'u1', connectorId: 'github', updatedAt: 1 });

    const payload = interactionPayload('i1', token);
    await store.model('Interaction').upsert('i1', payload, 600);
    expect(await store.model('Interaction').find('i1')).toEqual(payload);
    const rawInteraction = (await inner.model('Interaction').find('i1'))!;
    expect(JSON.stringify(rawInteraction)).not.toContain(token);
    expect(JSON.stringify(rawInteraction)).not.toContain('pkce-verifier');
    expect(rawInteraction).toMatchObject({
      uid: 'uid-i1',
      exp: payload.exp,
      result: { login: { accountId: 'sub-1' } },
    });
    // The caller's payload is not modified.
    expect(payload.result).toMatchObject({ gatehouse: { identity: { connectorData: { refreshToken: token } } } });

    // A Grant carrying connectorData in its identity extension: only that member is sealed.
    const grant = {
      jti: 'g1',
      accountId: 'sub-1',
      gatehouse: { connectorId: 'github', identity: { userId: '1', connectorData: { refreshToken: token } } },
    };
    await store.model('Grant').upsert('g1', grant, 600);
    expect(await store.model('Grant').find('g1')).toEqual(grant);
    const rawGrant = (await inner.model('Grant').find('g1'))!;
    expect(JSON.stringify(rawGrant)).not.toContain(token);
    expect(rawGrant).toMatchObject({
      accountId: 'sub-1',
      gatehouse: { connectorId: 'github', identity: { userId: '1' } },
    });
    // Other models pass through untouched.
    await store.model('AccessToken').upsert('a1', { jti: 'a1', grantId: 'g1' }, 60);
    expect(await inner.model('AccessToken').find('a1')).toMatchObject({ grantId: 'g1' });
    await store.close();
  });

  it('refuses a tampered value, or one moved to another record, with an invalid StoreError', async () => {
    const inner = new MemoryStore();
    const store = new SealedStore(inner, KEY_A);
    await store.offlineSessions.upsert({
      userId: 'u1',
      connectorId: 'github',
      connectorData: { refreshToken: 'secret-1' },
      updatedAt: 1,
    });
    const raw = (await inner.offlineSessions.get('u1', 'github'))!;
    const envelope = (raw.connectorData as Record<string, string>)[SEALED_MEMBER]!;

    // Moved: the same sealed value under another user.
    await inner.offlineSessions.upsert({ ...raw, userId: 'u2' });
    await expect(store.offlineSessions.get('u2', 'github')).rejects.toMatchObject({
      name: 'StoreError',
      code: 'invalid',
    });

    // Tampered: one ciphertext character flipped, or truncated.
    const last = envelope.at(-5) === 'A' ? 'B' : 'A';
    const flipped = `${envelope.slice(0, -5)}${last}${envelope.slice(-4)}`;
    for (const bad of [flipped, envelope.slice(0, 40), 'v1.zzzzzzzz.x.y', 42]) {
      await inner.offlineSessions.upsert({ ...raw, connectorData: { [SEALED_MEMBER]: bad } });
      await expect(store.offlineSessions.get('u1', 'github')).rejects.toBeInstanceOf(StoreError);
    }

    // A signing key's sealed members moved onto another kid.
    await writeKeys(store);
    const rawKeys = (await inner.keys.get())!;
    const [first, second] = rawKeys.keys.signing;
    const swapped = { ...rawKeys.keys, signing: [{ ...first!, [SEALED_MEMBER]: second![SEALED_MEMBER] }, second!] };
    expect(await inner.keys.compareAndSwap(rawKeys.version, swapped)).toBe(true);
    await expect(store.keys.get()).rejects.toMatchObject({
      code: 'invalid',
      message: expect.stringMatching(/failed authentication/),
    });

    // An Interaction's sealed state copied into another Interaction.
    await store.model('Interaction').upsert('i1', interactionPayload('i1', 'secret-2'), 600);
    const rawI1 = (await inner.model('Interaction').find('i1'))!;
    await inner.model('Interaction').upsert('i2', { ...rawI1, jti: 'i2' }, 600);
    await expect(store.model('Interaction').find('i2')).rejects.toMatchObject({ code: 'invalid' });
    await store.close();
  });

  it('rotates storage keys: the first seals, all open; a dropped key is a clear error', async () => {
    const inner = new MemoryStore();
    const withA = new SealedStore(inner, KEY_A);
    await withA.offlineSessions.upsert({ userId: 'u1', connectorId: 'c', connectorData: { t: 'old' }, updatedAt: 1 });
    await writeKeys(withA);
    const keysBefore = (await withA.keys.get())!;

    const withBA = new SealedStore(inner, `${KEY_B},${KEY_A}`);
    expect((await withBA.offlineSessions.get('u1', 'c'))?.connectorData).toEqual({ t: 'old' });
    expect((await withBA.keys.get())?.keys).toEqual(keysBefore.keys);
    await withBA.offlineSessions.upsert({ userId: 'u2', connectorId: 'c', connectorData: { t: 'new' }, updatedAt: 2 });

    const withB = new SealedStore(inner, KEY_B);
    expect((await withB.offlineSessions.get('u2', 'c'))?.connectorData).toEqual({ t: 'new' });
    const error = await withB.offlineSessions.get('u1', 'c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({
      code: 'invalid',
      message: expect.stringMatching(/storage key not in GATEHOUSE_STORAGE_KEY/),
    });
    expect((error as Error).message).not.toContain(KEY_A);
    expect((error as Error).message).not.toContain(KEY_B);

    // Without any key, sealed values are refused (not handed to a connector as garbage).
    const keyless = new SealedStore(inner, undefined);
    await expect(keyless.offlineSessions.get('u2', 'c')).rejects.toMatchObject({
      code: 'invalid',
      message: expect.stringMatching(/not set/),
    });
    await expect(keyless.keys.get()).rejects.toMatchObject({ code: 'invalid' });
    await inner.close();
  });

  it('reads values written in clear before a key was set, and seals them on their next write', async () => {
    const inner = new MemoryStore();
    const clear = new SealedStore(inner, undefined);
    await clear.offlineSessions.upsert({
      userId: 'u1',
      connectorId: 'c',
      connectorData: { refreshToken: 'clear-token' },
      updatedAt: 1,
    });
    // One payload, compared below as written: building it again would take a new `exp`, a second
    // later when key generation crosses a second boundary.
    const written = interactionPayload('i1', 'clear-token');
    await clear.model('Interaction').upsert('i1', written, 600);
    const manager = await writeKeys(clear);
    // Without a key nothing changes: the inner store holds the values as given.
    expect(await inner.offlineSessions.get('u1', 'c')).toMatchObject({
      connectorData: { refreshToken: 'clear-token' },
    });
    expect(JSON.stringify(await inner.keys.get())).toContain('"d":');

    const sealed = new SealedStore(inner, KEY_A);
    expect((await sealed.offlineSessions.get('u1', 'c'))?.connectorData).toEqual({ refreshToken: 'clear-token' });
    expect(await sealed.model('Interaction').find('i1')).toEqual(written);
    const clearKeys = (await sealed.keys.get())!;
    expect(clearKeys.version).toBe(manager.version);
    expect(privateValues(clearKeys.keys).length).toBeGreaterThan(0);

    await sealed.offlineSessions.upsert({
      userId: 'u1',
      connectorId: 'c',
      connectorData: { refreshToken: 'clear-token' },
      updatedAt: 2,
    });
    expect(JSON.stringify(await inner.offlineSessions.get('u1', 'c'))).not.toContain('clear-token');
    // Keys: the next compare-and-swap (a rotation, or carrying the set over) seals them.
    expect(await sealed.keys.compareAndSwap(clearKeys.version, clearKeys.keys)).toBe(true);
    const rawJSON = JSON.stringify(await inner.keys.get());
    for (const s of privateValues(clearKeys.keys)) expect(rawJSON).not.toContain(s);
    expect((await sealed.keys.get())?.keys).toEqual(clearKeys.keys);
    await inner.close();
  });
});
