import { existsSync, statSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestCA } from '../tls.ts';
import { startPostgres } from './index.ts';

describe('startPostgres', () => {
  it('runs as a non-root user on a free port, keeps data across restart, refuses a wrong password, removes its directory on stop', async () => {
    const server = await startPostgres();
    try {
      // The cluster belongs to an unprivileged account (PostgreSQL refuses root).
      expect(statSync(`${server.dir}/data`).uid).not.toBe(0);
      const [row] = await server.query(
        "SELECT current_setting('data_directory') AS d, (SELECT usesuper FROM pg_user WHERE usename = current_user) AS s",
      );
      expect(row).toEqual({ d: `${server.dir}/data`, s: true });
      const db = await server.createDatabase('launcher');
      await server.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')", db);
      await server.restart();
      expect(await server.query('SELECT v FROM t', db)).toEqual([{ v: 'kept' }]);
      const wrong = new pg.Client({
        host: server.host,
        port: server.port,
        user: server.user,
        password: 'wrong',
        database: 'postgres',
      });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
      await server.pause();
      await expect(server.query('SELECT 1')).rejects.toThrow();
      await server.start();
      expect(await server.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
  }, 60_000);

  it('with tls: TLS only, verified with the test CA', async () => {
    const ca = await createTestCA();
    const server = await startPostgres({ tls: ca });
    try {
      expect(server.caCert).toBe(ca.caCert);
      const base = {
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
        database: 'postgres',
      };
      const plain = new pg.Client(base);
      await expect(plain.connect()).rejects.toThrow(/no encryption|pg_hba/);
      const verified = new pg.Client({ ...base, ssl: { ca: ca.caCert, servername: 'localhost' } });
      await verified.connect();
      expect((await verified.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([
        { ssl: true },
      ]);
      await verified.end();
    } finally {
      await server.stop();
    }
  }, 60_000);
});
