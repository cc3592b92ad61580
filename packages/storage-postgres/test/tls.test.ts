/**
 * TLS to the server with Dex's `ssl` keys, against a server that accepts TLS only (a private test
 * CA): verify-full with the right CA works (by name and by IP SAN), a wrong CA is refused in
 * every verifying mode, the default (no ssl section = verify-full) does not trust an unknown CA,
 * `require` encrypts without verifying (lib/pq's meaning), `disable` is turned away.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '@gatehouse/storage';
import { createTestCA } from '@gatehouse/testkit/tls';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import { openPostgresStore, type PostgresStoreConfig } from '../src/index.ts';

describe('TLS to PostgreSQL', () => {
  let server: Postgres;
  let dir: string;
  let base: PostgresStoreConfig;
  let caFile: string;
  let wrongCaFile: string;

  beforeAll(async () => {
    const ca = await createTestCA('Gatehouse Postgres CA');
    const other = await createTestCA('Some Other CA');
    server = await startPostgres({ tls: ca });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pgtls-'));
    caFile = join(dir, 'ca.pem');
    wrongCaFile = join(dir, 'wrong-ca.pem');
    writeFileSync(caFile, ca.caCert);
    writeFileSync(wrongCaFile, other.caCert);
    const database = await server.createDatabase('tls');
    base = { host: 'localhost', port: server.port, user: server.user, password: server.password, database };
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens, checks the session is encrypted as the server sees it, closes. */
  async function encrypted(config: PostgresStoreConfig): Promise<boolean> {
    const store = await openPostgresStore(config);
    try {
      const id = `tls-${Date.now()}`;
      await store.clients.upsert({ id, redirectURIs: ['https://x.example/cb'] });
      await store.clients.delete(id);
      const rows = await server.query(
        `SELECT bool_and(ssl) AS all_ssl, count(*) AS n FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE datname = '${config.database}'`,
      );
      return rows[0]?.all_ssl === true && Number(rows[0]?.n) > 0;
    } finally {
      await store.close();
    }
  }

  async function refused(config: PostgresStoreConfig): Promise<StoreError> {
    const error = await openPostgresStore(config).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('unavailable');
    return error as StoreError;
  }

  it('verify-full with the private CA: connects, every session encrypted (host name and IP address)', async () => {
    expect(await encrypted({ ...base, ssl: { mode: 'verify-full', caFile } })).toBe(true);
    expect(await encrypted({ ...base, host: '127.0.0.1', ssl: { mode: 'verify-full', caFile } })).toBe(true);
    expect(await encrypted({ ...base, ssl: { mode: 'verify-ca', caFile } })).toBe(true);
  });

  it('a wrong CA is refused (verify-full, verify-ca, and require with a caFile, which verifies as lib/pq does)', async () => {
    for (const mode of ['verify-full', 'verify-ca', 'require'] as const) {
      const error = await refused({ ...base, ssl: { mode, caFile: wrongCaFile } });
      expect(error.message, mode).toMatch(/certificate/i);
    }
  });

  it('no ssl section means verify-full (Dex): a server certificate from a private CA is not trusted without caFile', async () => {
    expect((await refused(base)).message).toMatch(/certificate/i);
  });

  it('verify-full refuses a server whose certificate names another host; verify-ca (the chain only) accepts it', async () => {
    const ca = await createTestCA('Gatehouse Postgres CA 2');
    const misnamed = await startPostgres({ tls: ca, tlsHostnames: ['db.elsewhere.example'] });
    try {
      const file = join(dir, 'ca2.pem');
      writeFileSync(file, ca.caCert);
      const config = {
        ...base,
        host: '127.0.0.1',
        port: misnamed.port,
        password: misnamed.password,
        database: 'postgres',
      };
      expect((await refused({ ...config, ssl: { mode: 'verify-full', caFile: file } })).message).toMatch(
        /IP: 127\.0\.0\.1 is not in the cert's list/,
      );
      const store = await openPostgresStore({ ...config, ssl: { mode: 'verify-ca', caFile: file } });
      await store.close();
    } finally {
      await misnamed.stop();
    }
  });

  it('require encrypts without verifying; disable is turned away by a TLS-only server', async () => {
    expect(await encrypted({ ...base, ssl: { mode: 'require' } })).toBe(true);
    expect((await refused({ ...base, ssl: { mode: 'disable' } })).message).toMatch(/no encryption|pg_hba/);
  });
});
