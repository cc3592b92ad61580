/**
 * The Store conformance suite: every backend (memory, SQLite, Kubernetes against a real API
 * server) runs these same assertions. Tests share one opened store and use fresh random ids, so
 * the suite also works against a backend that keeps data from earlier runs.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL_NAMES,
  type ChangeEvent,
  type ConnectorRecord,
  type ModelPayload,
  type OAuth2Client,
  type PasswordUser,
  type RecordStore,
  type SigningKeySet,
  type Store,
} from '../types.ts';

export interface StoreConformanceOptions {
  /** How many expired records the gc test writes (default 2,000: several gc pages). */
  gcRecords?: number;
  /**
   * Whether two stores from `open()` share their data, as replicas do (default true; false only for
   * memory). When true, consume races and key CAS are also run across two opened instances.
   */
  shared?: boolean;
}

/** An id shaped like oidc-provider's: 43 URL-safe chars, upper case, `-` and `_` allowed. */
export function newId(): string {
  return randomBytes(32).toString('base64url');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A realistic payload (nested objects, unicode, numbers) with the fields the store reads. */
function payloadFor(id: string, extra: Partial<ModelPayload> = {}, expiresIn = 600): ModelPayload {
  const iat = nowSeconds();
  return {
    jti: id,
    iat,
    exp: iat + expiresIn,
    kind: 'Test',
    accountId: `user-${id.slice(0, 6)}`,
    clientId: 'conformance-client',
    scope: 'openid email offline_access',
    claims: { name: 'Zoë Åström', groups: ['a', 'b'], nested: { n: 1, ok: true, nothing: null } },
    ...extra,
  };
}

/** An already-expired write: `exp` in the past and a non-positive `expiresIn`. */
async function upsertExpired(
  store: Store,
  model: (typeof MODEL_NAMES)[number],
  id: string,
  extra: Partial<ModelPayload> = {},
) {
  await store.model(model).upsert(id, payloadFor(id, extra, -10), -10);
}

function keySet(tag: string): SigningKeySet {
  return {
    signing: [
      { kty: 'EC', crv: 'P-256', kid: `kid-${tag}`, alg: 'ES256', d: `d-${tag}`, x: `x-${tag}`, y: `y-${tag}` },
    ],
    retired: [
      {
        jwk: { kty: 'EC', crv: 'P-256', kid: `old-${tag}`, alg: 'ES256', x: 'x', y: 'y' },
        expiresAt: nowSeconds() + 3600,
      },
    ],
    nextRotation: nowSeconds() + 6 * 3600,
  };
}

/** Polls until `check` returns true or the deadline passes; returns the last result. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}

export function runStoreConformance(
  name: string,
  open: () => Promise<Store>,
  options: StoreConformanceOptions = {},
): void {
  const gcRecords = options.gcRecords ?? 2000;
  const shared = options.shared ?? true;

  describe(`Store conformance: ${name}`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await open();
    });

    afterAll(async () => {
      await store?.close();
    });

    describe('oidc-provider models', () => {
      it.each(MODEL_NAMES)('%s: upsert, find, replace, destroy', async (model) => {
        const models = store.model(model);
        const id = newId();
        expect(await models.find(id)).toBeUndefined();

        const first = payloadFor(id, { grantId: newId() });
        await models.upsert(id, first, 600);
        const found = await models.find(id);
        expect(found).toEqual(first);
        expect(found?.consumed).toBeFalsy();

        // Fresh objects: mutating a result or the written payload does not change the store.
        found!.scope = 'tampered';
        first.scope = 'tampered too';
        expect((await models.find(id))?.scope).toBe('openid email offline_access');

        const second = payloadFor(id, { scope: 'openid', extraField: { deep: [1, 2, 3] } });
        await models.upsert(id, second, 600);
        expect(await models.find(id)).toEqual(second);

        await models.destroy(id);
        expect(await models.find(id)).toBeUndefined();
        await models.destroy(id); // destroying a missing record is not an error
      });

      it('keeps records without expiry (expiresIn undefined)', async () => {
        const id = newId();
        const payload = { ...payloadFor(id), exp: undefined };
        delete payload.exp;
        await store.model('Grant').upsert(id, payload);
        expect(await store.model('Grant').find(id)).toEqual(payload);
        await store.model('Grant').destroy(id);
      });

      // oidc-provider names a model the issuer does not keep (a feature it never enabled): a
      // clear error for the caller, never a crash or a silent write.
      it.each(['ReplayDetection', 'Client', 'NoSuchModel'])(
        '%s (not a kept model) is a StoreError naming it',
        (model) => {
          expect(() => store.model(model as (typeof MODEL_NAMES)[number])).toThrow(
            expect.objectContaining({ name: 'StoreError', code: 'invalid', message: `unknown model ${model}` }),
          );
        },
      );

      it('keeps models apart: the same id in two models is two records', async () => {
        const id = newId();
        await store.model('AccessToken').upsert(id, payloadFor(id, { kind: 'AccessToken' }), 600);
        await store.model('RefreshToken').upsert(id, payloadFor(id, { kind: 'RefreshToken' }), 600);
        await store.model('AccessToken').destroy(id);
        expect(await store.model('AccessToken').find(id)).toBeUndefined();
        expect((await store.model('RefreshToken').find(id))?.kind).toBe('RefreshToken');
        await store.model('RefreshToken').destroy(id);
      });

      it('findByUid finds the live Session by uid, follows a jti rotation, and forgets destroyed ones', async () => {
        const sessions = store.model('Session');
        const uid = newId();
        const oldId = newId();
        expect(await sessions.findByUid(uid)).toBeUndefined();
        await sessions.upsert(oldId, payloadFor(oldId, { uid, kind: 'Session' }), 600);
        expect((await sessions.findByUid(uid))?.jti).toBe(oldId);
        expect(await sessions.findByUid(newId())).toBeUndefined();

        // Session.save on login: the jti rotates, the uid stays.
        const newJti = newId();
        await sessions.destroy(oldId);
        await sessions.upsert(newJti, payloadFor(newJti, { uid, kind: 'Session' }), 600);
        expect((await sessions.findByUid(uid))?.jti).toBe(newJti);

        await sessions.destroy(newJti);
        expect(await sessions.findByUid(uid)).toBeUndefined();
      });

      it('findByUid follows a replace that changes the uid', async () => {
        const sessions = store.model('Session');
        const id = newId();
        const uidA = newId();
        const uidB = newId();
        await sessions.upsert(id, payloadFor(id, { uid: uidA }), 600);
        await sessions.upsert(id, payloadFor(id, { uid: uidB }), 600);
        expect(await sessions.findByUid(uidA)).toBeUndefined();
        expect((await sessions.findByUid(uidB))?.jti).toBe(id);
        await sessions.destroy(id);
      });

      it('findByUserCode finds the live DeviceCode by user code', async () => {
        const codes = store.model('DeviceCode');
        const id = newId();
        const userCode = `BCDF-${newId().slice(0, 4)}`;
        expect(await codes.findByUserCode(userCode)).toBeUndefined();
        await codes.upsert(id, payloadFor(id, { userCode, kind: 'DeviceCode' }), 600);
        expect((await codes.findByUserCode(userCode))?.jti).toBe(id);
        expect(await codes.findByUserCode(`${userCode}X`)).toBeUndefined();
        await codes.destroy(id);
        expect(await codes.findByUserCode(userCode)).toBeUndefined();
      });

      it("revokeByGrantId deletes only this model's records with that grantId", async () => {
        const grantId = newId();
        const otherGrant = newId();
        const [a1, a2, a3, r1, c1] = [newId(), newId(), newId(), newId(), newId()];
        await store.model('AccessToken').upsert(a1, payloadFor(a1, { grantId }), 600);
        await store.model('AccessToken').upsert(a2, payloadFor(a2, { grantId }), 600);
        await store.model('AccessToken').upsert(a3, payloadFor(a3, { grantId: otherGrant }), 600);
        await store.model('RefreshToken').upsert(r1, payloadFor(r1, { grantId }), 600);
        await store.model('AuthorizationCode').upsert(c1, payloadFor(c1, { grantId }), 600);

        await store.model('AccessToken').revokeByGrantId(grantId);
        expect(await store.model('AccessToken').find(a1)).toBeUndefined();
        expect(await store.model('AccessToken').find(a2)).toBeUndefined();
        expect((await store.model('AccessToken').find(a3))?.grantId).toBe(otherGrant);
        expect((await store.model('RefreshToken').find(r1))?.grantId).toBe(grantId);
        expect((await store.model('AuthorizationCode').find(c1))?.grantId).toBe(grantId);

        await store.model('RefreshToken').revokeByGrantId(grantId);
        expect(await store.model('RefreshToken').find(r1)).toBeUndefined();
        expect(await store.model('AuthorizationCode').find(c1)).toBeDefined();
        await store.model('AccessToken').revokeByGrantId(newId()); // no match: not an error

        for (const [model, id] of [
          ['AccessToken', a3],
          ['AuthorizationCode', c1],
        ] as const) {
          await store.model(model).destroy(id);
        }
      });

      it('revokeByGrantId follows a replace that changes the grantId', async () => {
        const tokens = store.model('AccessToken');
        const id = newId();
        const oldGrant = newId();
        const newGrant = newId();
        await tokens.upsert(id, payloadFor(id, { grantId: oldGrant }), 600);
        await tokens.upsert(id, payloadFor(id, { grantId: newGrant }), 600);
        await tokens.revokeByGrantId(oldGrant);
        expect(await tokens.find(id)).toBeDefined();
        await tokens.revokeByGrantId(newGrant);
        expect(await tokens.find(id)).toBeUndefined();
      });
    });

    describe('expiry', () => {
      it('never returns already-expired records from find, findByUid, findByUserCode or consume', async () => {
        const [code, session, device] = [newId(), newId(), newId()];
        const uid = newId();
        const userCode = `XKCD-${newId().slice(0, 4)}`;
        await upsertExpired(store, 'AuthorizationCode', code, { grantId: newId() });
        await upsertExpired(store, 'Session', session, { uid });
        await upsertExpired(store, 'DeviceCode', device, { userCode });

        expect(await store.model('AuthorizationCode').find(code)).toBeUndefined();
        expect(await store.model('AuthorizationCode').consume(code)).toBe(false);
        expect(await store.model('Session').find(session)).toBeUndefined();
        expect(await store.model('Session').findByUid(uid)).toBeUndefined();
        expect(await store.model('DeviceCode').find(device)).toBeUndefined();
        expect(await store.model('DeviceCode').findByUserCode(userCode)).toBeUndefined();
      });

      it('a replace moves the expiry: expired → live and live → expired', async () => {
        const tokens = store.model('RefreshToken');
        const id = newId();
        await upsertExpired(store, 'RefreshToken', id);
        expect(await tokens.find(id)).toBeUndefined();
        await tokens.upsert(id, payloadFor(id), 600);
        expect(await tokens.find(id)).toBeDefined();
        await upsertExpired(store, 'RefreshToken', id);
        expect(await tokens.find(id)).toBeUndefined();
      });

      it('a record stops being returned once its expiresIn has passed (real wait)', async () => {
        const id = newId();
        const uid = newId();
        const sessions = store.model('Session');
        await sessions.upsert(id, payloadFor(id, { uid }, 1), 1);
        expect(await sessions.find(id)).toBeDefined();
        expect(await sessions.findByUid(uid)).toBeDefined();
        // Bounded poll rather than a fixed sleep: backends may round expiry to whole seconds.
        const gone = await eventually(async () => (await sessions.find(id)) === undefined, 4000, 100);
        expect(gone).toBe(true);
        expect(await sessions.findByUid(uid)).toBeUndefined();
        expect(await sessions.consume(id)).toBe(false);
      });
    });

    describe('consume', () => {
      it('of 20 parallel consume calls on one record exactly one returns true', async () => {
        const codes = store.model('AuthorizationCode');
        const id = newId();
        const payload = payloadFor(id, { grantId: newId() });
        await codes.upsert(id, payload, 600);
        const results = await Promise.all(Array.from({ length: 20 }, () => codes.consume(id)));
        expect(results.filter((r) => r === true)).toHaveLength(1);
        expect(results.filter((r) => r === false)).toHaveLength(19);

        const found = await codes.find(id);
        expect(found?.consumed).toBeTruthy();
        expect({ ...found, consumed: undefined }).toEqual({ ...payload, consumed: undefined });
        expect(await codes.consume(id)).toBe(false);
        await codes.destroy(id);
      });

      it('returns false for a missing record and for a destroyed one', async () => {
        const tokens = store.model('RefreshToken');
        expect(await tokens.consume(newId())).toBe(false);
        const id = newId();
        await tokens.upsert(id, payloadFor(id), 600);
        await tokens.destroy(id);
        expect(await tokens.consume(id)).toBe(false);
      });

      it('is per model: consuming one model’s record leaves the same id in another model', async () => {
        const id = newId();
        await store.model('DeviceCode').upsert(id, payloadFor(id), 600);
        await store.model('PushedAuthorizationRequest').upsert(id, payloadFor(id), 600);
        expect(await store.model('DeviceCode').consume(id)).toBe(true);
        expect((await store.model('PushedAuthorizationRequest').find(id))?.consumed).toBeFalsy();
        expect(await store.model('PushedAuthorizationRequest').consume(id)).toBe(true);
        await store.model('DeviceCode').destroy(id);
        await store.model('PushedAuthorizationRequest').destroy(id);
      });
    });

    describe('garbage collection', () => {
      it(`removes ${gcRecords} expired records in pages, keeps live ones, returns the count`, async () => {
        const codes = store.model('AuthorizationCode');
        const live = [newId(), newId(), newId()];
        const liveNoExpiry = newId();
        for (const id of live) await codes.upsert(id, payloadFor(id), 600);
        await store.model('Grant').upsert(liveNoExpiry, payloadFor(liveNoExpiry));

        const expired = Array.from({ length: gcRecords }, () => newId());
        const models = ['AuthorizationCode', 'AccessToken', 'Interaction', 'Session'] as const;
        const batch = 50;
        for (let i = 0; i < expired.length; i += batch) {
          await Promise.all(
            expired
              .slice(i, i + batch)
              .map((id, j) => upsertExpired(store, models[(i + j) % models.length]!, id, { grantId: 'gc', uid: id })),
          );
        }

        const removed = await store.gc();
        // Other tests may have left expired records behind; never fewer than ours.
        expect(removed).toBeGreaterThanOrEqual(gcRecords);
        expect(await store.gc()).toBe(0);
        for (const id of live) expect(await codes.find(id)).toBeDefined();
        expect(await store.model('Grant').find(liveNoExpiry)).toBeDefined();

        for (const id of live) await codes.destroy(id);
        await store.model('Grant').destroy(liveNoExpiry);
      });

      it('gc(now) uses the given time', async () => {
        const id = newId();
        await store.model('Interaction').upsert(id, payloadFor(id), 600);
        await store.gc(new Date(Date.now() - 3600_000));
        expect(await store.model('Interaction').find(id)).toBeDefined();
        await store.model('Interaction').destroy(id);
      });
    });

    describe('signing keys', () => {
      it('compare-and-swap: exactly one of two writers with the same version wins; a stale version loses', async () => {
        const before = await store.keys.get();
        // Nothing stored yet: only `undefined` may create. Something stored: `undefined` is stale.
        expect(await store.keys.compareAndSwap(before ? undefined : 'no-such-version', keySet('bogus'))).toBe(false);

        const first = keySet('first');
        expect(await store.keys.compareAndSwap(before?.version, first)).toBe(true);
        const afterFirst = await store.keys.get();
        expect(afterFirst?.keys).toEqual(first);
        expect(afterFirst?.version).toBeTypeOf('string');
        expect(afterFirst?.version).not.toBe(before?.version);

        const [a, b] = [keySet('writer-a'), keySet('writer-b')];
        const results = await Promise.all([
          store.keys.compareAndSwap(afterFirst!.version, a),
          store.keys.compareAndSwap(afterFirst!.version, b),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? a : b;
        const afterRace = await store.keys.get();
        expect(afterRace?.keys).toEqual(winner);
        expect(afterRace?.version).not.toBe(afterFirst?.version);

        expect(await store.keys.compareAndSwap(afterFirst!.version, keySet('stale'))).toBe(false);
        expect(await store.keys.compareAndSwap(undefined, keySet('create-again'))).toBe(false);
        expect((await store.keys.get())?.keys).toEqual(winner);

        // Fresh objects.
        afterRace!.keys.signing.length = 0;
        expect((await store.keys.get())?.keys.signing).toHaveLength(1);
      });
    });

    describe('records managed at run time', () => {
      async function crud<T extends object>(
        records: RecordStore<T>,
        idOf: (r: T) => string,
        make: (id: string, variant: string) => T,
        newKey: () => string = () => `conf-${newId().slice(0, 12).toLowerCase()}`,
      ): Promise<void> {
        const id = newKey();
        expect(await records.get(id)).toBeUndefined();
        const first = make(id, 'one');
        await records.upsert(first);
        expect(await records.get(id)).toEqual(first);
        expect((await records.list()).filter((r) => idOf(r) === id)).toEqual([first]);

        const second = make(id, 'two');
        await records.upsert(second);
        expect(await records.get(id)).toEqual(second);
        expect((await records.list()).filter((r) => idOf(r) === id)).toEqual([second]);

        await records.delete(id);
        expect(await records.get(id)).toBeUndefined();
        expect((await records.list()).some((r) => idOf(r) === id)).toBe(false);
        await records.delete(id); // deleting a missing record is not an error
      }

      it('clients: get, list, upsert replaces, delete', async () => {
        await crud<OAuth2Client>(
          store.clients,
          (c) => c.id,
          (id, v) => ({
            id,
            secret: `secret-${v}`,
            redirectURIs: [`https://app.example.com/${v}/callback`],
            postLogoutRedirectURIs: ['https://app.example.com/'],
            trustedPeers: ['other'],
            public: v === 'two',
            name: `App ${v}`,
            logoURL: 'https://app.example.com/logo.png',
          }),
        );
      });

      it('connectors: get, list, upsert replaces, delete', async () => {
        await crud<ConnectorRecord>(
          store.connectors,
          (c) => c.id,
          (id, v) => ({
            id,
            type: v === 'one' ? 'ldap' : 'github',
            name: `Connector ${v}`,
            config: { host: 'ldap.example.com:636', nested: { groups: [v] }, enabled: true },
          }),
        );
      });

      it('passwords: keyed by lower-cased email', async () => {
        await crud<PasswordUser>(
          store.passwords,
          (p) => p.email,
          (email, v) => ({ email, hash: `$2a$10$${v.padEnd(53, 'x')}`, username: `user-${v}`, userId: `uid-${v}` }),
          () => `conf-${newId().slice(0, 12).toLowerCase()}@example.com`,
        );

        const email = `Mixed.${newId().slice(0, 8)}@Example.COM`;
        await store.passwords.upsert({ email, hash: 'h', username: 'u', userId: 'i' });
        const byLower = await store.passwords.get(email.toLowerCase());
        expect(byLower?.email).toBe(email.toLowerCase());
        expect((await store.passwords.get(email))?.userId).toBe('i');
        await store.passwords.delete(email);
        expect(await store.passwords.get(email.toLowerCase())).toBeUndefined();
      });

      it('offline sessions: keyed by user and connector', async () => {
        const userId = newId();
        expect(await store.offlineSessions.get(userId, 'ldap')).toBeUndefined();
        const first = {
          userId,
          connectorId: 'ldap',
          connectorData: { refreshToken: 'r1', n: [1] },
          updatedAt: nowSeconds(),
        };
        const other = { userId, connectorId: 'github', updatedAt: nowSeconds() };
        await store.offlineSessions.upsert(first);
        await store.offlineSessions.upsert(other);
        expect(await store.offlineSessions.get(userId, 'ldap')).toEqual(first);
        expect(await store.offlineSessions.get(userId, 'github')).toEqual(other);

        const second = { ...first, connectorData: { refreshToken: 'r2' }, updatedAt: first.updatedAt + 1 };
        await store.offlineSessions.upsert(second);
        expect(await store.offlineSessions.get(userId, 'ldap')).toEqual(second);

        await store.offlineSessions.delete(userId, 'ldap');
        expect(await store.offlineSessions.get(userId, 'ldap')).toBeUndefined();
        expect(await store.offlineSessions.get(userId, 'github')).toEqual(other);
        await store.offlineSessions.delete(userId, 'github');
        await store.offlineSessions.delete(userId, 'github');
      });

      it('watch (when provided): upsert and delete events arrive for clients and connectors', async () => {
        const watched = [
          ['clients', store.clients, (id: string) => ({ id, redirectURIs: ['https://w.example.com/cb'] })],
          ['connectors', store.connectors, (id: string) => ({ id, type: 'mock', name: 'Watched', config: {} })],
        ] as const;
        for (const [, records, make] of watched) {
          const watch = (records as RecordStore<{ id: string }>).watch?.bind(records);
          if (!watch) continue;
          const events: ChangeEvent<{ id: string }>[] = [];
          const stop = watch((event) => events.push(event));
          try {
            const id = `watch-${newId().slice(0, 12).toLowerCase()}`;
            await (records as RecordStore<{ id: string }>).upsert(make(id));
            const upserted = await eventually(
              () => events.some((e) => e.type === 'upsert' && e.record.id === id),
              10_000,
            );
            expect(upserted).toBe(true);
            await records.delete(id);
            const deleted = await eventually(() => events.some((e) => e.type === 'delete' && e.id === id), 10_000);
            expect(deleted).toBe(true);
          } finally {
            stop();
          }
        }
      });
    });

    describe.runIf(shared)('two opened instances (replicas)', () => {
      let replica: Store;

      beforeAll(async () => {
        replica = await open();
      });

      afterAll(async () => {
        await replica?.close();
      });

      it('see each other’s writes and deletes', async () => {
        const id = newId();
        const uid = newId();
        await store.model('Session').upsert(id, payloadFor(id, { uid }), 600);
        expect((await replica.model('Session').findByUid(uid))?.jti).toBe(id);
        await replica.model('Session').destroy(id);
        expect(await store.model('Session').find(id)).toBeUndefined();

        const client = {
          id: `replica-${newId().slice(0, 12).toLowerCase()}`,
          redirectURIs: ['https://r.example.com/cb'],
        };
        await replica.clients.upsert(client);
        expect(await store.clients.get(client.id)).toEqual(client);
        await store.clients.delete(client.id);
        expect(await replica.clients.get(client.id)).toBeUndefined();
      });

      it('of 20 consume calls split across both instances exactly one returns true', async () => {
        const id = newId();
        await store.model('AuthorizationCode').upsert(id, payloadFor(id), 600);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : replica).model('AuthorizationCode').consume(id)),
        );
        expect(results.filter((r) => r === true)).toHaveLength(1);
        expect((await replica.model('AuthorizationCode').find(id))?.consumed).toBeTruthy();
        await store.model('AuthorizationCode').destroy(id);
      });

      it('key compare-and-swap: of one writer per instance with the same version exactly one wins', async () => {
        const current = await store.keys.get();
        const [a, b] = [keySet('replica-a'), keySet('replica-b')];
        const results = await Promise.all([
          store.keys.compareAndSwap(current?.version, a),
          replica.keys.compareAndSwap(current?.version, b),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await replica.keys.get())?.keys).toEqual(results[0] ? a : b);
        expect((await store.keys.get())?.keys).toEqual(results[0] ? a : b);
      });
    });

    describe('lifecycle', () => {
      it('ping resolves', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('close is idempotent', async () => {
        const other = await open();
        expect(other.type).toBe(store.type);
        await other.close();
        await other.close();
      });
    });
  });
}
