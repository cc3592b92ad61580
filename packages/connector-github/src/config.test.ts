import { parseConnectorConfig, parseDurationMs } from '@gatehouse/connector-kit';
import { describe, expect, it } from 'vitest';
import { configWarnings, endpointsFor, githubConfigSchema } from './config.ts';
import { factory } from './index.ts';

const base = { clientID: 'id', clientSecret: 'secret' };

describe('github config', () => {
  it('applies Dex defaults', () => {
    const c = githubConfigSchema.parse(base);
    expect(c).toMatchObject({
      teamNameField: 'name',
      loadAllGroups: false,
      useLoginAsID: false,
      requestTimeout: '10s',
    });
    expect(endpointsFor(c)).toEqual({ api: 'https://api.github.com', oauth: 'https://github.com', enterprise: false });
  });

  it('derives GitHub Enterprise URLs from hostName', () => {
    const c = githubConfigSchema.parse({ ...base, hostName: 'ghe.example.com:8443' });
    expect(endpointsFor(c)).toEqual({
      api: 'https://ghe.example.com:8443/api/v3',
      oauth: 'https://ghe.example.com:8443',
      enterprise: true,
    });
  });

  it('reports every problem at once, each with its key path', () => {
    const result = parseConnectorConfig(factory, {
      clientSecret: 424242424242,
      org: 'a',
      orgs: [{ name: '' }],
      hostName: 'ghe.example.com/path',
      apiURL: 'ftp://x',
      teamNameField: 'id',
      requestTimeout: 'forever',
      preferredEmailDomain: 'example.*',
    });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.issues.map((i) => i.path);
    for (const p of [
      'clientID',
      'clientSecret',
      'orgs[0].name',
      'hostName',
      'apiURL',
      'teamNameField',
      'requestTimeout',
      'preferredEmailDomain',
    ]) {
      expect(paths).toContain(p);
    }
    // Never echoes a secret back.
    expect(JSON.stringify(result)).not.toContain('424242424242');
  });

  it('rejects org with orgs, rootCA without a host, URLs with hostName, plain http to a remote host', () => {
    const bad = (extra: object, path: string) => {
      const r = githubConfigSchema.safeParse({ ...base, ...extra });
      expect(r.success, JSON.stringify(extra)).toBe(false);
      expect(r.success ? [] : r.error.issues.map((i) => i.path.join('.'))).toContain(path);
    };
    bad({ org: 'a', orgs: [{ name: 'b' }] }, 'org');
    bad({ rootCA: '/ca.pem' }, 'rootCA');
    bad({ hostName: 'ghe', apiURL: 'https://api.example.com' }, 'apiURL');
    bad({ apiURL: 'http://api.example.com' }, 'apiURL');
    bad({ orgs: [] }, 'orgs');
    bad({ surprise: 1 }, '');
    expect(
      githubConfigSchema.safeParse({ ...base, apiURL: 'http://127.0.0.1:8080', oauthURL: 'http://localhost:8080/' })
        .success,
    ).toBe(true);
  });

  it('warns about the legacy org key and loadAllGroups next to orgs', () => {
    expect(configWarnings(githubConfigSchema.parse(base))).toEqual([]);
    expect(configWarnings(githubConfigSchema.parse({ ...base, org: 'acme' })).join(' ')).toMatch(/Unlike Dex/);
    expect(
      configWarnings(githubConfigSchema.parse({ ...base, orgs: [{ name: 'a' }], loadAllGroups: true })).join(' '),
    ).toMatch(/ignored/);
  });

  it('parses durations', () => {
    expect(parseDurationMs('10s')).toBe(10_000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1.5m')).toBe(90_000);
    expect(parseDurationMs('10')).toBeUndefined();
  });
});
