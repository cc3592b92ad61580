/** A PostgreSQL cluster per test file (`@gatehouse/testkit/postgres`) and the Dex-style config of one of its databases. */
import type { Postgres } from '@gatehouse/testkit/postgres';
import type { PostgresStoreConfig } from '../src/index.ts';

/** `storage.config` for a fresh database on `server` (plain TCP: the TLS tests set `ssl` themselves). */
export async function freshConfig(
  server: Postgres,
  extra: Partial<PostgresStoreConfig> = {},
): Promise<PostgresStoreConfig> {
  const database = await server.createDatabase('store');
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    ssl: { mode: 'disable' },
    ...extra,
  };
}
