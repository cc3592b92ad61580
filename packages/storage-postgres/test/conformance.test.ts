import { afterAll, beforeAll } from 'vitest';
import { runStoreConformance } from '@gatehouse/storage/conformance';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import { openPostgresStore, type PostgresStoreConfig } from '../src/index.ts';
import { freshConfig } from './pg-env.ts';

let server: Postgres;
let config: PostgresStoreConfig;

beforeAll(async () => {
  server = await startPostgres();
  config = await freshConfig(server);
});

afterAll(async () => {
  await server?.stop();
});

// Every open() is another replica on the same database (its own pool and listening connection).
runStoreConformance('postgres', () => openPostgresStore(config));
