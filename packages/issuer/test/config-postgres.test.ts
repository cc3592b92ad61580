// storage type postgres: Dex's keys load unchanged, with `$VAR` expansion as Dex does inside storage.config,
// and every mistake is reported at its key path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import type { ConfigIssue, IssuerConfig } from '../src/config/index.ts';
import { createRegistry } from '../src/connectors/registry.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-pgconfig-'));
writeFileSync(path.join(dir, 'postgres.ca'), 'not checked here');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const withStorage = (storage: string): string => `
issuer: http://127.0.0.1:5556/dex
storage:
${storage}
web:
  http: 127.0.0.1:5556
connectors:
  - type: mockCallback
    id: mock
    name: Example
`;

async function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig(text, { env, baseDir: dir, registry: createRegistry() });
}

async function ok(
  text: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ config: IssuerConfig; warnings: ConfigIssue[] }> {
  const r = await load(text, env);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return r;
}

async function errors(text: string): Promise<Record<string, string>> {
  const r = await load(text);
  if (r.ok) throw new Error('expected errors');
  return Object.fromEntries(r.errors.map((e) => [e.path, e.message]));
}

describe('storage type postgres', () => {
  it("loads Dex's documented example unchanged, files relative to the config file", async () => {
    const { config } = await ok(
      withStorage(`  type: postgres
  config:
    host: localhost
    port: 5432
    database: dex_db
    user: dex_admin
    password: 66964843358242dbaaa7778d8477c288
    ssl:
      mode: verify-ca
      caFile: postgres.ca
    connectionTimeout: 5
    maxOpenConns: 10
    maxIdleConns: 3
    connMaxLifetime: 300`),
    );
    expect(config.storage).toEqual({
      type: 'postgres',
      config: {
        host: 'localhost',
        port: 5432,
        database: 'dex_db',
        user: 'dex_admin',
        password: '66964843358242dbaaa7778d8477c288',
        ssl: { mode: 'verify-ca', caFile: path.join(dir, 'postgres.ca') },
        connectionTimeout: 5,
        maxOpenConns: 10,
        maxIdleConns: 3,
        connMaxLifetime: 300,
      },
    });
  });

  it('expands $VAR and ${VAR} inside storage.config as Dex does (numbers too)', async () => {
    const { config } = await ok(
      withStorage(`  type: postgres
  config:
    host: \${PGHOST}
    port: $PGPORT
    database: dex
    user: dex
    password: $PGPASSWORD`),
      { PGHOST: 'db.internal', PGPORT: '6432', PGPASSWORD: 's3cr$t' },
    );
    expect(config.storage).toEqual({
      type: 'postgres',
      config: { host: 'db.internal', port: 6432, database: 'dex', user: 'dex', password: 's3cr$t' },
    });
  });

  it('reads case-only misspellings (Dex decodes keys case-insensitively) with a warning', async () => {
    const { config, warnings } = await ok(
      withStorage(`  type: postgres
  config:
    Host: db
    maxopenconns: 7`),
    );
    expect(config.storage).toEqual({ type: 'postgres', config: { host: 'db', maxOpenConns: 7 } });
    expect(warnings.map((w) => w.path)).toEqual(
      expect.arrayContaining(['storage.config.Host', 'storage.config.maxopenconns']),
    );
  });

  it('reports every mistake at its key path', async () => {
    const e = await errors(
      withStorage(`  type: postgres
  config:
    hots: db
    port: 70000
    ssl:
      mode: prefer
      caFile: missing.ca
      certFile: client.crt
    maxOpenConns: -1
    connMaxLifetime: 1h`),
    );
    expect(e['storage.config.hots']).toContain('did you mean "host"');
    expect(e['storage.config.port']).toBeDefined();
    expect(e['storage.config.ssl.mode']).toMatch(/verify-full/);
    expect(e['storage.config.maxOpenConns']).toBeDefined();
    expect(e['storage.config.connMaxLifetime']).toMatch(/whole number/);
    const files = await errors(
      withStorage(`  type: postgres
  config:
    ssl:
      caFile: missing.ca
      certFile: postgres.ca`),
    );
    expect(files['storage.config.ssl.caFile']).toContain(`no file at ${path.join(dir, 'missing.ca')}`);
    expect(files['storage.config.ssl.keyFile']).toContain('go together');
  });

  it('still refuses the Dex types Gatehouse does not implement', async () => {
    expect((await errors(withStorage('  type: mysql')))['storage.type']).toMatch(/not supported.*postgres/);
  });
});
