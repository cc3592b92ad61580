import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONNECTOR_KIT_VERSION, isCallbackConnector, isPasswordConnector } from '@gatehouse/connector-kit';
import type { Connector, ConnectorFactory } from '@gatehouse/connector-kit';
import { createMemoryLogger } from '@gatehouse/connector-kit/testing';
import { ConnectorRegistryError, createRegistry } from './registry.ts';

// Third-party connector packages installed in a folder of their own (as next to a config file).
const plugins = mkdtempSync(path.join(tmpdir(), 'gatehouse-plugins-'));
afterAll(() => rmSync(plugins, { recursive: true, force: true }));

function installPackage(name: string, source: string): void {
  const dir = path.join(plugins, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', type: 'module', exports: './index.js' }),
  );
  writeFileSync(path.join(dir, 'index.js'), source);
}

const factorySource = (type: string, kitVersion: string) => `
const configSchema = {
  safeParse(v) {
    return v && typeof v.realm === 'string'
      ? { success: true, data: v }
      : { success: false, error: { issues: [{ path: ['realm'], message: 'required' }] } };
  },
};
export const factory = {
  type: ${JSON.stringify(type)},
  kitVersion: ${JSON.stringify(kitVersion)},
  configSchema,
  open: (id, config) => ({ kind: 'password', prompt: 'Username', async login() { return { ok: false }; }, realm: config.realm }),
};
`;
installPackage(
  'gatehouse-connector-plain',
  `${factorySource('plain', CONNECTOR_KIT_VERSION)}\nexport default factory;\n`,
);
installPackage('@acme/gatehouse-connector-okta', factorySource('okta', '1.4.2'));
installPackage('@acme/gatehouse-connector-future', `${factorySource('future', '2.0.0')}\nexport default factory;\n`);
installPackage('gatehouse-connector-empty', 'export const something = 1;\n');
installPackage('gatehouse-connector-broken', 'throw new Error("boom at import");\n');

const context = {
  logger: createMemoryLogger(),
  issuerURL: 'https://issuer.test/dex',
  callbackURL: 'https://issuer.test/dex/callback',
};

async function registryError(p: Promise<unknown>): Promise<ConnectorRegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorRegistryError);
    return e as ConnectorRegistryError;
  }
  throw new Error('expected a ConnectorRegistryError');
}

describe('createRegistry', () => {
  const registry = createRegistry([], { searchPaths: [plugins] });

  it('knows the in-process and built-in types without importing them', () => {
    expect(registry.knownTypes().sort()).toEqual([
      'github',
      'ldap',
      'local',
      'microsoft',
      'mockCallback',
      'mockPassword',
    ]);
  });

  it('loads built-in connector packages lazily by their Dex type name', async () => {
    const github = await registry.resolve('github');
    expect(github.type).toBe('github');
    expect(github.kitVersion).toBe(CONNECTOR_KIT_VERSION);
    expect(await registry.resolve('github')).toBe(github);
  });

  it('imports a third-party package named as the type (default or named "factory" export)', async () => {
    expect((await registry.resolve('gatehouse-connector-plain')).type).toBe('plain');
    expect((await registry.resolve('@acme/gatehouse-connector-okta')).type).toBe('okta');
  });

  it('refuses a factory built for another major kit version, naming the package and both versions', async () => {
    const e = await registryError(registry.resolve('@acme/gatehouse-connector-future'));
    expect(e.code).toBe('kit_version_mismatch');
    expect(e.message).toContain('@acme/gatehouse-connector-future');
    expect(e.message).toContain('2.0.0');
    expect(e.message).toContain(CONNECTOR_KIT_VERSION);
    const bad: ConnectorFactory = {
      type: 'x',
      kitVersion: '0.9.0',
      configSchema: z.object({}),
      open: () => ({}) as Connector,
    };
    expect(() => createRegistry([bad])).toThrow(/0\.9\.0/);
  });

  it('refuses a module without a factory, a missing package and an unknown type', async () => {
    expect((await registryError(registry.resolve('gatehouse-connector-empty'))).code).toBe('not_a_factory');
    const missing = await registryError(registry.resolve('@acme/gatehouse-connector-absent'));
    expect(missing.code).toBe('not_installed');
    expect(missing.message).toContain('@acme/gatehouse-connector-absent');
    const broken = await registryError(registry.resolve('gatehouse-connector-broken'));
    expect(broken.code).toBe('import_failed');
    expect(broken.message).toContain('boom at import');
    const unknown = await registryError(registry.resolve('okta'));
    expect(unknown.code).toBe('unknown_type');
    expect(unknown.message).toContain('mockCallback');
    expect((await registryError(registry.resolve('saml'))).message).toContain(
      `Dex's "saml" connector is not implemented`,
    );
    // Relative paths and URLs are not package names: never imported.
    expect((await registryError(registry.resolve('../../evil'))).code).toBe('unknown_type');
    expect((await registryError(registry.resolve('file:///etc/passwd'))).code).toBe('unknown_type');
  });

  it('lets extra factories add and override types', async () => {
    const extra: ConnectorFactory<{ n: number }> = {
      type: 'counter',
      kitVersion: CONNECTOR_KIT_VERSION,
      configSchema: z.object({ n: z.number() }),
      open: () => ({ kind: 'password', prompt: 'n', login: async () => ({ ok: false }) }),
    };
    const r = createRegistry([extra as ConnectorFactory]);
    expect(await r.resolve('counter')).toBe(extra);
    expect(r.knownTypes()).toContain('counter');
  });
});

describe('openConnectors', () => {
  it('opens each connector with its parsed config and a child logger', async () => {
    const registry = createRegistry([], { searchPaths: [plugins] });
    const opened = await registry.openConnectors(
      [
        { type: 'mockCallback', id: 'mock', name: 'Example', config: {} },
        { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'u', password: 'p' } },
        { type: 'gatehouse-connector-plain', id: 'plain', name: 'Plain', config: { realm: 'r' } },
        { type: 'local', id: 'local', name: 'Email', config: { staticPasswords: [] } },
      ],
      context,
    );
    expect(opened.map((o) => [o.id, o.type, o.name])).toEqual([
      ['mock', 'mockCallback', 'Example'],
      ['pw', 'mockPassword', 'Password'],
      ['plain', 'gatehouse-connector-plain', 'Plain'],
      ['local', 'local', 'Email'],
    ]);
    expect(isCallbackConnector(opened[0]!.connector)).toBe(true);
    expect(isPasswordConnector(opened[1]!.connector)).toBe(true);
    expect((opened[2]!.connector as unknown as { realm: string }).realm).toBe('r');
  });

  it('fails with invalid_configuration naming the key, closing what it opened', async () => {
    const closed: string[] = [];
    const closing: ConnectorFactory = {
      type: 'closing',
      kitVersion: CONNECTOR_KIT_VERSION,
      configSchema: z.object({}),
      open: (id) => ({
        kind: 'password',
        prompt: 'x',
        login: async () => ({ ok: false }),
        close: async () => {
          closed.push(id);
        },
      }),
    };
    const registry = createRegistry([closing]);
    await expect(
      registry.openConnectors(
        [
          { type: 'closing', id: 'first', name: 'First', config: {} },
          { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'u' } },
        ],
        context,
      ),
    ).rejects.toMatchObject({ code: 'invalid_configuration', key: 'password' });
    expect(closed).toEqual(['first']);
  });

  it('reports every config issue of a connector with its key path', async () => {
    const registry = createRegistry();
    const err = await registry
      .openConnectors([{ type: 'mockPassword', id: 'pw', name: 'Password', config: { extra: 1 } }], context)
      .then(
        () => undefined,
        (e: unknown) => e as { code: string; key: string; message: string },
      );
    expect(err?.code).toBe('invalid_configuration');
    expect(err?.key).toBe('username');
    expect(err?.message).toContain('username: required');
    expect(err?.message).toContain('password: required');
    expect(err?.message).toMatch(/extra/);
  });

  it("logs each factory's config warnings when it opens the connector", async () => {
    const warned: ConnectorFactory<{ risky: boolean }> = {
      type: 'warned',
      kitVersion: CONNECTOR_KIT_VERSION,
      configSchema: z.object({ risky: z.boolean() }),
      warnings: (c) => (c.risky ? ['risky is on: anyone may log in'] : []),
      open: () => ({ kind: 'password', prompt: 'n', login: async () => ({ ok: false }) }),
    };
    const logger = createMemoryLogger();
    await createRegistry([warned as ConnectorFactory]).openConnectors(
      [{ type: 'warned', id: 'w', name: 'W', config: { risky: true } }],
      { ...context, logger },
    );
    expect(logger.records).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        obj: expect.objectContaining({ connector: 'w', warning: 'risky is on: anyone may log in' }),
      }),
    );
  });
});
