// The reference flow on PostgreSQL, from Dex's `postgres` keys (password through $VAR, TLS verify-full to the
// server with a private CA): while the browser holds the issuer's redirect to /oauth2/callback, the code's row is
// in the database under its SHA-256 (never the code itself), and once forward-auth has redeemed it, it is consumed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { modelKey } from '@gatehouse/storage/backend-rules';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import { createTestCA } from '@gatehouse/testkit/tls';
import { defineFlowSuite } from '../src/flow-suite.ts';

let server: Postgres | undefined;
let dir: string | undefined;
let database = '';
const seen: Array<{ code: string; ids: string[]; clear: boolean }> = [];

const codeRows = async (): Promise<Array<Record<string, unknown>>> =>
  server!.query("SELECT id, payload, consumed_at FROM gatehouse_models WHERE model = 'AuthorizationCode'", database);

defineFlowSuite({
  name: 'postgres',
  ldap: false,
  async stack() {
    const ca = await createTestCA('Gatehouse e2e PostgreSQL CA');
    server = await startPostgres({ tls: ca });
    database = await server.createDatabase('e2e');
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-e2e-pg-'));
    const caFile = join(dir, 'postgres-ca.pem');
    await writeFile(caFile, ca.caCert);
    return {
      storage: {
        kind: 'postgres',
        host: 'localhost',
        port: server.port,
        database,
        user: server.user,
        password: server.password,
        caFile,
      },
    };
  },
  async atCallback(callbackURL) {
    if (!server || seen.length > 0) return;
    const code = callbackURL.searchParams.get('code') ?? '';
    const rows = await codeRows();
    console.log(
      `[e2e] gatehouse_models AuthorizationCode rows (browser paused before /oauth2/callback): ${rows.map((r) => String(r.id)).join(', ')}`,
    );
    seen.push({ code, ids: rows.map((r) => String(r.id)), clear: JSON.stringify(rows).includes(code) });
  },
  async afterFirstLogin() {
    expect(seen).toHaveLength(1);
    const [first] = seen;
    expect(first?.code).toBeTruthy();
    expect(first?.ids).toContain(modelKey(first!.code));
    expect(first?.clear).toBe(false);
    // forward-auth redeemed it: the row is consumed (or already collected), never redeemable again.
    const row = (await codeRows()).find((r) => r.id === modelKey(first!.code));
    if (row !== undefined) expect(row.consumed_at).not.toBeNull();
    // Every session the issuer holds to the server is encrypted.
    const ssl = await server!.query(
      `SELECT bool_and(ssl) AS all_ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE datname = '${database}'`,
    );
    expect(ssl[0]?.all_ssl).toBe(true);
  },
  async afterAllExtra() {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
