import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/index.ts';

const examples = fileURLToPath(new URL('../../../deploy/examples/', import.meta.url));
const repoRoot = path.resolve(examples, '../..');

describe('deploy/examples', () => {
  it('config-dev.yaml validates with the values of Dex’s example', async () => {
    const r = await loadConfigFile(path.join(examples, 'config-dev.yaml'), { env: {} });
    if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
    expect(r.warnings).toEqual([]);
    const c = r.config;
    expect(c.issuer).toBe('http://127.0.0.1:5556/dex');
    expect(c.storage).toEqual({ type: 'sqlite3', config: { file: path.join(repoRoot, 'data', 'gatehouse.db') } });
    expect(c.web.http).toBe('127.0.0.1:5556');
    expect(c.telemetry.http).toBe('127.0.0.1:5558');
    expect(c.staticClients).toEqual([
      expect.objectContaining({
        id: 'example-app',
        secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
        name: 'Example App',
        redirectURIs: ['http://127.0.0.1:5555/callback'],
      }),
    ]);
    expect(c.enablePasswordDB).toBe(true);
    expect(c.staticPasswords).toEqual([
      expect.objectContaining({
        email: 'admin@example.com',
        hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
        username: 'admin',
        userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
      }),
    ]);
    expect(c.connectors).toEqual([{ type: 'mockCallback', id: 'mock', name: 'Example', config: {} }]);
  });

  it('config-production.yaml validates with its environment set, and names what is missing without it', async () => {
    const file = path.join(examples, 'config-production.yaml');
    const env = {
      AZURE_CLIENT_ID: '3f0e4c2a-1b2c-4d5e-8f90-0123456789ab',
      AZURE_CLIENT_SECRET: 'azure-client-secret-value',
      AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      OAUTH2_PROXY_CLIENT_SECRET: 'oauth2-proxy-client-secret-value',
    };
    const r = await loadConfigFile(file, { env });
    if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
    expect(r.warnings).toEqual([]);
    const c = r.config;
    expect(c.issuer).toBe('https://devailab.work/dex');
    expect(c.storage).toEqual({ type: 'kubernetes', config: { inCluster: true } });
    expect(c.staticClients[0]).toMatchObject({
      id: 'oauth2-proxy',
      secret: env.OAUTH2_PROXY_CLIENT_SECRET,
      redirectURIs: ['https://devailab.work/oauth2/callback'],
    });
    expect(c.connectors[0]).toMatchObject({
      type: 'microsoft',
      id: 'azure',
      config: { clientID: env.AZURE_CLIENT_ID, clientSecret: env.AZURE_CLIENT_SECRET, tenant: env.AZURE_TENANT_ID },
    });
    expect(c.expiry.refreshTokens).toMatchObject({
      reuseInterval: 3,
      absoluteLifetime: 2160 * 3600,
      validIfNotUsedFor: 720 * 3600,
    });
    expect(c.oauth2.pkce.enforce).toBe(true);

    const without = await loadConfigFile(file, { env: {} });
    expect(without.ok).toBe(false);
    if (!without.ok) expect(without.errors.map((e) => e.path)).toContain('staticClients[0].secretEnv');
    expect(without.warnings.map((w) => w.path)).toEqual(
      expect.arrayContaining([
        'connectors[0].config.clientID',
        'connectors[0].config.clientSecret',
        'connectors[0].config.tenant',
      ]),
    );
  });
});
