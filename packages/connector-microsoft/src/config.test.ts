import { describe, expect, it } from 'vitest';
import { configSchema, warnings } from './config.ts';

const base = { clientID: 'id', clientSecret: 'secret' };

describe('configSchema', () => {
  it("applies Dex's defaults", () => {
    expect(configSchema.parse(base)).toMatchObject({
      tenant: 'common',
      apiURL: 'https://login.microsoftonline.com',
      graphURL: 'https://graph.microsoft.com',
      groupNameFormat: 'name',
      groups: [],
      onlySecurityGroups: false,
      useGroupsAsWhitelist: false,
      emailToLowercase: false,
      allowedTenants: [],
      timeoutSeconds: 10,
    });
  });

  it('accepts tenant ids, verified domains and the multi-tenant names', () => {
    for (const tenant of [
      'common',
      'organizations',
      'consumers',
      '72f988bf-86f1-41af-91ab-2d7cd011db47',
      'contoso.onmicrosoft.com',
    ]) {
      expect(configSchema.safeParse({ ...base, tenant }).success, tenant).toBe(true);
    }
    for (const tenant of ['', 'con toso', '../common', 'https://evil.test']) {
      expect(configSchema.safeParse({ ...base, tenant }).success, tenant).toBe(false);
    }
  });

  it('reports every problem at once with its key path', () => {
    const r = configSchema.safeParse({
      clientID: '',
      tenant: 1,
      promptType: 'always',
      apiURL: 'http://login.example.com',
      scopes: 'User.Read',
      extra: true,
    });
    expect(r.success).toBe(false);
    const paths = r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['clientID', 'clientSecret', 'tenant', 'promptType', 'apiURL', 'scopes', '']),
    );
  });

  it('normalises allowedTenants to lower case without duplicates', () => {
    const c = configSchema.parse({
      ...base,
      allowedTenants: ['72F988BF-86F1-41AF-91AB-2D7CD011DB47', '72f988bf-86f1-41af-91ab-2d7cd011db47'],
    });
    expect(c.allowedTenants).toEqual(['72f988bf-86f1-41af-91ab-2d7cd011db47']);
  });

  it('never echoes the secret in a message', () => {
    const r = configSchema.safeParse({ ...base, clientSecret: 42 });
    expect(JSON.stringify(r.error?.issues)).not.toContain('42');
  });
});

describe('warnings', () => {
  it('is quiet for a plain single-tenant setup', () => {
    expect(warnings(configSchema.parse({ ...base, tenant: 'contoso.onmicrosoft.com', groups: ['A'] }))).toEqual([]);
  });
  it('warns that required groups cannot be read with a /.default scope unless granted', () => {
    const w = warnings(
      configSchema.parse({
        ...base,
        tenant: 'contoso.onmicrosoft.com',
        groups: ['A'],
        scopes: ['https://graph.microsoft.com/.default'],
      }),
    );
    expect(w.join()).toMatch(/every sign-in will be refused/);
  });
  it('warns about allowedTenants with a single tenant', () => {
    expect(
      warnings(
        configSchema.parse({
          ...base,
          tenant: 'contoso.onmicrosoft.com',
          allowedTenants: ['72f988bf-86f1-41af-91ab-2d7cd011db47'],
        }),
      ).join(),
    ).toMatch(/allowedTenants/);
  });
});
