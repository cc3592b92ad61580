/**
 * The server going away under the store: every call fails fast with StoreError('unavailable')
 * (never a hang, never an unhandled error event that would crash the issuer), the same store
 * recovers once the server is back (no reopen), and clients changed while a replica's listening
 * connection was down still reach it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError, type ChangeEvent, type OAuth2Client } from '@gatehouse/storage';
import { newId } from '@gatehouse/storage/conformance';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import { openPostgresStore, type PostgresStore, type PostgresStoreConfig } from '../src/index.ts';
import { freshConfig } from './pg-env.ts';

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('PostgreSQL outages', () => {
  let server: Postgres;
  let config: PostgresStoreConfig;
  let store: PostgresStore;
  let replica: PostgresStore;

  beforeAll(async () => {
    server = await startPostgres();
    config = await freshConfig(server, { connectionTimeout: 2 });
    store = await openPostgresStore(config, { watch: { maxBackoffMs: 500 } });
    replica = await openPostgresStore(config);
  });

  afterAll(async () => {
    await store?.close();
    await replica?.close();
    await server?.stop();
  });

  it('a restart in the middle of concurrent traffic surfaces only unavailable errors, and the same store recovers', async () => {
    const grantId = newId();
    let stop = false;
    const errors: unknown[] = [];
    let ok = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const id = newId();
        try {
          await store.model('AuthorizationCode').upsert(id, { jti: id, grantId }, 60);
          await store.model('AuthorizationCode').find(id);
          await store.model('AuthorizationCode').consume(id);
          ok++;
        } catch (err) {
          errors.push(err);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await eventually(() => ok > 50, 10_000);
    await server.restart();
    const afterRestart = ok;
    expect(await eventually(() => ok > afterRestart + 50, 15_000)).toBe(true);
    stop = true;
    await Promise.all(workers);
    for (const err of errors) {
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('unavailable');
    }
    await expect(store.ping()).resolves.toBeUndefined();
  }, 60_000);

  it('while the server is down every call fails within the connection timeout with unavailable; after start it works again', async () => {
    await server.pause();
    try {
      const started = Date.now();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['find', () => store.model('AccessToken').find(newId())],
        ['upsert', () => store.model('AccessToken').upsert(newId(), {}, 60)],
        ['consume', () => store.model('AuthorizationCode').consume(newId())],
        ['keys.get', () => store.keys.get()],
        ['clients.list', () => store.clients.list()],
        ['gc', () => store.gc()],
        ['ping', () => store.ping()],
      ];
      for (const [name, call] of calls) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(StoreError);
        expect((error as StoreError).code, name).toBe('unavailable');
      }
      expect(Date.now() - started).toBeLessThan(calls.length * 3000);
    } finally {
      await server.start();
    }
    const id = newId();
    await store.model('AccessToken').upsert(id, { jti: id }, 60);
    expect((await store.model('AccessToken').find(id))?.jti).toBe(id);
  }, 60_000);

  it("a client written while a replica's listening connection is gone reaches that replica once it reconnects", async () => {
    const events: ChangeEvent<OAuth2Client>[] = [];
    const stop = store.clients.watch!((e) => events.push(e));
    try {
      const first = { id: `before-${newId().slice(0, 8)}`, redirectURIs: ['https://a.example/cb'] };
      await replica.clients.upsert(first);
      expect(await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === first.id), 10_000)).toBe(
        true,
      );
      // Cut the listening connection (as a failover would), then write at once: the notice is lost.
      const cut = await server.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')",
      );
      expect(cut.length).toBeGreaterThan(0);
      const missed = { id: `missed-${newId().slice(0, 8)}`, redirectURIs: ['https://b.example/cb'] };
      await replica.clients.upsert(missed);
      await replica.clients.delete(first.id);
      expect(await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === missed.id), 10_000)).toBe(
        true,
      );
      expect(await eventually(() => events.some((e) => e.type === 'delete' && e.id === first.id), 10_000)).toBe(true);
      // And after a whole server restart.
      await server.restart();
      const afterRestart = { id: `after-${newId().slice(0, 8)}`, redirectURIs: ['https://c.example/cb'] };
      await expect
        .poll(
          () =>
            replica.clients.upsert(afterRestart).then(
              () => true,
              () => false,
            ),
          { timeout: 10_000 },
        )
        .toBe(true);
      expect(
        await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === afterRestart.id), 15_000),
      ).toBe(true);
    } finally {
      stop();
    }
  }, 60_000);
});
