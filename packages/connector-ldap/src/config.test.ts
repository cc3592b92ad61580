import { parseConnectorConfig } from '@gatehouse/connector-kit';
import { describe, expect, it } from 'vitest';
import { configWarnings, ldapConfigSchema } from './config.ts';
import { endpointFor } from './connection.ts';
import { factory } from './index.ts';

const minimal = { host: 'ldap.example.com', userSearch: { baseDN: 'ou=People,dc=example,dc=com', username: 'uid' } };

describe('ldap config schema', () => {
  it('applies defaults to a minimal Dex config', () => {
    const c = ldapConfigSchema.parse(minimal);
    expect(c).toMatchObject({
      host: { hostname: 'ldap.example.com', port: undefined },
      insecureNoSSL: false,
      startTLS: false,
      insecureSkipVerify: false,
      usernamePrompt: 'Username',
      userSearch: { username: ['uid'], scope: 'sub', idAttr: 'uid', emailAttr: 'mail', nameAttr: 'cn' },
      connectTimeout: 5000,
      requestTimeout: 10000,
    });
    expect(c.groupSearch).toBeUndefined();
  });

  it('reports every problem at once, each with its key path', () => {
    const result = parseConnectorConfig(factory, {
      host: 'ldaps://ldap.example.com',
      startTLS: 'yes',
      bindDN: 'cn=svc',
      userSearch: { baseDN: '', username: 'u id', filter: '(uid=x', scope: 'subtree' },
      groupSearch: { baseDN: 'ou=G', userAttr: 'DN', nameAttr: 'cn' },
      requestTimeout: 5,
      kerberos: {},
    });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.issues.map((i) => i.path);
    for (const p of [
      'host',
      'startTLS',
      'userSearch.baseDN',
      'userSearch.username',
      'userSearch.filter',
      'userSearch.scope',
      'groupSearch.groupAttr',
      'requestTimeout',
      '',
    ]) {
      expect(paths, p).toContain(p);
    }
    const messages = result.ok ? '' : result.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(messages).toMatch(/host: must be "host" or "host:port" without a scheme/);
    expect(messages).toMatch(/kerberos/); // unknown keys are named, not ignored
  });

  it('accepts the legacy groupSearch.userAttr/groupAttr form as one matcher', () => {
    const c = ldapConfigSchema.parse({
      ...minimal,
      groupSearch: { baseDN: 'ou=G', userAttr: 'dn', groupAttr: 'member', recursionGroupAttr: 'DN' },
    });
    expect(c.groupSearch?.userMatchers).toEqual([{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'DN' }]);
    expect(c.groupSearch?.maxNestingDepth).toBe(10);
  });

  it('rejects unreadable certificate files, naming the key', () => {
    const r = parseConnectorConfig(factory, {
      ...minimal,
      rootCA: '/nonexistent/ca.pem',
      clientCert: '/nonexistent/c.pem',
    });
    const paths = r.ok ? [] : r.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['rootCA', 'clientCert', 'clientKey']));
  });
});

describe('endpoint', () => {
  it('picks the scheme and default port like Dex', () => {
    expect(endpointFor(ldapConfigSchema.parse(minimal)).url).toBe('ldaps://ldap.example.com:636');
    expect(endpointFor(ldapConfigSchema.parse({ ...minimal, insecureNoSSL: true })).url).toBe(
      'ldap://ldap.example.com:389',
    );
    const st = endpointFor(ldapConfigSchema.parse({ ...minimal, startTLS: true }));
    expect(st).toMatchObject({
      url: 'ldap://ldap.example.com:389',
      startTLS: true,
      tls: { servername: 'ldap.example.com', rejectUnauthorized: true },
    });
    expect(endpointFor(ldapConfigSchema.parse({ ...minimal, host: '[::1]:1636' })).url).toBe('ldaps://[::1]:1636');
  });
});

describe('warnings', () => {
  it('warns about clear-text passwords, unverified TLS and anonymous searches', () => {
    expect(configWarnings(ldapConfigSchema.parse({ ...minimal, bindDN: 'cn=s', bindPW: 'p' }))).toEqual([]);
    const w = configWarnings(ldapConfigSchema.parse({ ...minimal, insecureNoSSL: true })).join('\n');
    expect(w).toMatch(/clear text/);
    expect(w).toMatch(/anonymous/);
    expect(configWarnings(ldapConfigSchema.parse({ ...minimal, insecureSkipVerify: true })).join('\n')).toMatch(
      /not verified/,
    );
    expect(
      configWarnings(
        ldapConfigSchema.parse({ ...minimal, insecureNoSSL: true, startTLS: true, bindDN: 'cn=s', bindPW: 'p' }),
      ),
    ).toEqual([]);
  });
});
