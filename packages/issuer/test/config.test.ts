import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONNECTOR_KIT_VERSION } from '@gatehouse/connector-kit';
import type { ConnectorFactory } from '@gatehouse/connector-kit';
import { loadConfig, loadConfigFile } from '../src/config/index.ts';
import type { ConfigIssue, ConfigResult, IssuerConfig } from '../src/config/index.ts';
import { createRegistry } from '../src/connectors/registry.ts';

// Dex's example hash of "password" (cost 10).
const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';

const BASE = `
issuer: http://127.0.0.1:5556/dex
storage:
  type: sqlite3
  config:
    file: data/gatehouse.db
web:
  http: 127.0.0.1:5556
staticClients:
  - id: example-app
    secret: ZXhhbXBsZS1hcHAtc2VjcmV0
    redirectURIs: ['http://127.0.0.1:5555/callback']
    name: Example App
connectors:
  - type: mockCallback
    id: mock
    name: Example
`;

const registry = createRegistry();

async function ok(
  text: string,
  env: NodeJS.ProcessEnv = {},
  baseDir = '/etc/gatehouse',
): Promise<{ config: IssuerConfig; warnings: ConfigIssue[] }> {
  const r = await loadConfig(text, { env, baseDir, registry });
  if (!r.ok)
    throw new Error(`expected a valid config, got:\n${r.errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`);
  return r;
}

async function fail(
  text: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ errors: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const r: ConfigResult = await loadConfig(text, { env, baseDir: '/etc/gatehouse', registry });
  if (r.ok) throw new Error('expected errors, the config was accepted');
  return r;
}

function paths(issues: ConfigIssue[]): string[] {
  return issues.map((i) => i.path);
}

function messageAt(issues: ConfigIssue[], p: string): string {
  const found = issues.filter((i) => i.path === p);
  expect(found.length, `an issue at ${p} in ${JSON.stringify(issues)}`).toBeGreaterThan(0);
  return found.map((i) => i.message).join(' | ');
}

describe('loadConfig: a valid Dex config', () => {
  it('applies defaults and parses Dex values', async () => {
    const { config, warnings } = await ok(BASE);
    expect(warnings).toEqual([]);
    expect(config.issuer).toBe('http://127.0.0.1:5556/dex');
    expect(config.storage).toEqual({ type: 'sqlite3', config: { file: '/etc/gatehouse/data/gatehouse.db' } });
    expect(config.web).toMatchObject({ http: '127.0.0.1:5556', headers: {}, allowedOrigins: [], trustedProxies: [] });
    expect(config.expiry).toEqual({
      signingKeys: 6 * 3600,
      idTokens: 24 * 3600,
      authRequests: 3600,
      deviceRequests: 300,
      authCodes: 600,
      refreshTokens: {
        disableRotation: false,
        reuseInterval: 3,
        absoluteLifetime: 90 * 86400,
        validIfNotUsedFor: 30 * 86400,
      },
    });
    expect(config.signer.algorithms).toEqual(['RS256']);
    expect(config.oauth2.responseTypes).toEqual(['code']);
    expect(config.oauth2.grantTypes).toEqual([
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
    expect(config.oauth2.pkce).toEqual({ enforce: false, codeChallengeMethodsSupported: ['S256'] });
    expect(config.staticClients).toEqual([
      {
        id: 'example-app',
        secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
        redirectURIs: ['http://127.0.0.1:5555/callback'],
        postLogoutRedirectURIs: [],
        trustedPeers: [],
        public: false,
        name: 'Example App',
      },
    ]);
    expect(config.connectors).toEqual([{ type: 'mockCallback', id: 'mock', name: 'Example', config: {} }]);
    expect(config.logger).toEqual({ level: 'info', format: 'json' });
    expect(config.frontend).toEqual({ issuer: 'Gatehouse', theme: 'light', extra: {} });
  });

  it('parses Go durations to seconds', async () => {
    const { config } = await ok(`${BASE}
expiry:
  signingKeys: 12h
  idTokens: 30m
  authRequests: 1h30m
  deviceRequests: 90s
  authCodes: 5m
  refreshTokens:
    reuseInterval: 500ms
    absoluteLifetime: 3960h
    validIfNotUsedFor: 2160h
    disableRotation: true
`);
    expect(config.expiry).toEqual({
      signingKeys: 43200,
      idTokens: 1800,
      authRequests: 5400,
      deviceRequests: 90,
      authCodes: 300,
      refreshTokens: {
        disableRotation: true,
        reuseInterval: 0.5,
        absoluteLifetime: 3960 * 3600,
        validIfNotUsedFor: 2160 * 3600,
      },
    });
  });

  it('normalises static passwords and allows passwordConnector: local with enablePasswordDB', async () => {
    const { config } = await ok(`${BASE}
enablePasswordDB: true
oauth2:
  passwordConnector: local
staticPasswords:
  - email: Admin@Example.com
    hash: '${HASH}'
    username: admin
    userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
    groups: [admins]
`);
    const password = {
      email: 'admin@example.com',
      hash: HASH,
      username: 'admin',
      userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
      emailVerified: true,
      groups: ['admins'],
    };
    expect(config.staticPasswords).toEqual([password]);
    // The issuer opens the password DB itself (connector "local"); it is not listed in connectors.
    expect(config.connectors.map((c) => c.id)).toEqual(['mock']);
    expect(config.enablePasswordDB).toBe(true);
    expect(config.oauth2.passwordConnector).toBe('local');
    expect(config.oauth2.grantTypes).toContain('password');
  });

  it('accepts a base64-encoded bcrypt hash and hashFromEnv, as Dex does', async () => {
    const { config } = await ok(
      `${BASE}
enablePasswordDB: true
staticPasswords:
  - email: a@example.com
    hash: '${Buffer.from(HASH).toString('base64')}'
    userID: a
  - email: b@example.com
    hashFromEnv: B_HASH
    userID: b
`,
      { B_HASH: HASH },
    );
    expect(config.staticPasswords.map((p) => p.hash)).toEqual([HASH, HASH]);
    expect(config.staticPasswords[0]?.username).toBe('a@example.com');
  });

  it('resolves idEnv and secretEnv; public clients need no secret; name defaults to the id', async () => {
    const { config } = await ok(
      `${BASE.replace(
        /staticClients:[\s\S]*?connectors:/,
        `staticClients:
  - idEnv: CLIENT_ID
    secretEnv: CLIENT_SECRET
    redirectURIs: ['https://app.example.com/cb']
  - id: cli
    public: true
connectors:`,
      )}`,
      { CLIENT_ID: 'from-env', CLIENT_SECRET: 'a-long-enough-client-secret' },
    );
    expect(config.staticClients[0]).toMatchObject({
      id: 'from-env',
      secret: 'a-long-enough-client-secret',
      name: 'from-env',
    });
    expect(config.staticClients[1]).toMatchObject({ id: 'cli', public: true, name: 'cli' });
    expect(config.staticClients[1]?.secret).toBeUndefined();
  });

  it('reads Gatehouse additions: signer.algorithms, web.trustedProxies, frontend.colors', async () => {
    const { config } = await ok(
      BASE.replace(
        'web:\n  http: 127.0.0.1:5556',
        'web:\n  http: 127.0.0.1:5556\n  trustedProxies: [10.0.0.0/8, "::1"]',
      ) +
        `
signer:
  algorithms: [ES256, RS256]
frontend:
  issuer: Acme
  theme: dark
  colors: { primary: '#0b5fff', background: 'rgb(255, 255, 255)' }
`,
    );
    expect(config.signer.algorithms).toEqual(['ES256', 'RS256']);
    expect(config.web.trustedProxies).toEqual(['10.0.0.0/8', '::1']);
    expect(config.frontend).toMatchObject({
      issuer: 'Acme',
      theme: 'dark',
      colors: { primary: '#0b5fff', background: 'rgb(255, 255, 255)' },
    });
  });

  it("maps Dex's signer.config (keysRotationPeriod, algorithm)", async () => {
    const { config } = await ok(`${BASE}
signer:
  type: local
  config:
    keysRotationPeriod: 2h
    algorithm: ES256
`);
    expect(config.expiry.signingKeys).toBe(7200);
    expect(config.signer.algorithms).toEqual(['ES256']);
  });
});

describe('loadConfig: every problem at once, with key paths', () => {
  it('reports all mistakes of a broken file', async () => {
    const { errors } = await fail(`
issuer: ftp://example.com/dex?x=1
storage:
  type: etcd
web: {}
expiry:
  idTokens: 24 hours
staticClients:
  - id: a
    secret: one
    secretEnv: TWO
  - redirectURIs: ['https://x.example/cb#frag']
connectors:
  - type: mockPassword
    id: Not_DNS
    name: x
    config:
      username: kilgore
  - type: nope
    id: nope
    name: Nope
staticPasswords:
  - email: not-an-email
    hash: '$2a$04$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W'
    userID: x
oauth2:
  passwordConnector: missing
  responseTypes: [token]
  grantTypes: [authorisation_code]
isuer: typo
`);
    const p = paths(errors);
    for (const expected of [
      'issuer',
      'storage.type',
      'web',
      'expiry.idTokens',
      'staticClients[0].secretEnv',
      'staticClients[1].id',
      'staticClients[1].secret',
      'staticClients[1].redirectURIs[0]',
      'connectors[0].id',
      'connectors[0].config.password',
      'connectors[1].type',
      'staticPasswords',
      'staticPasswords[0].email',
      'staticPasswords[0].hash',
      'oauth2.passwordConnector',
      'oauth2.responseTypes[0]',
      'oauth2.grantTypes[0]',
      'isuer',
    ]) {
      expect(p, `expected an error at ${expected}`).toContain(expected);
    }
    expect(messageAt(errors, 'isuer')).toContain('did you mean "issuer"');
    expect(messageAt(errors, 'storage.type')).toMatch(/etcd.*not supported.*sqlite3.*kubernetes.*postgres/);
    expect(messageAt(errors, 'staticClients[0].secretEnv')).toContain('exclusive');
    expect(messageAt(errors, 'staticClients[1].id')).toContain('id or idEnv is required');
    expect(messageAt(errors, 'staticPasswords')).toContain('enablePasswordDB');
    expect(messageAt(errors, 'staticPasswords[0].hash')).toContain('cost 4');
    expect(messageAt(errors, 'connectors[1].type')).toContain('unknown connector type "nope"');
    expect(messageAt(errors, 'oauth2.grantTypes[0]')).toContain('did you mean "authorization_code"');
    expect(messageAt(errors, 'expiry.idTokens')).toContain('not a duration');
  });

  it('requires issuer, storage and a listen address', async () => {
    const { errors } = await fail('connectors: [{type: mockCallback, id: mock, name: Mock}]\n');
    expect(paths(errors)).toEqual(expect.arrayContaining(['issuer', 'storage', 'web']));
    expect(messageAt(errors, 'web')).toContain('HTTP/HTTPS');
  });

  it('requires tlsCert and tlsKey with web.https, and checks the files exist', async () => {
    const { errors } = await fail(BASE.replace('http: 127.0.0.1:5556', 'https: 127.0.0.1:5554'));
    expect(messageAt(errors, 'web.tlsCert')).toContain('no cert');
    expect(messageAt(errors, 'web.tlsKey')).toContain('no private key');
    const missing = await fail(
      BASE.replace('http: 127.0.0.1:5556', 'https: 127.0.0.1:5554\n  tlsCert: nope.crt\n  tlsKey: nope.key'),
    );
    expect(messageAt(missing.errors, 'web.tlsCert')).toContain('/etc/gatehouse/nope.crt');
  });

  it('refuses issuer URLs with a query, a fragment or a non-http scheme', async () => {
    for (const bad of [
      'https://a.example/dex?x=1',
      'https://a.example/dex#f',
      'ftp://a.example',
      'a.example/dex',
      'https://u:p@a.example',
    ]) {
      const { errors } = await fail(BASE.replace('http://127.0.0.1:5556/dex', bad));
      expect(paths(errors)).toContain('issuer');
    }
  });

  it('needs a connector or the password DB', async () => {
    const { errors } = await fail(BASE.replace(/connectors:[\s\S]*$/, ''));
    expect(messageAt(errors, 'connectors')).toContain('enablePasswordDB');
  });

  it('refuses duplicate client ids, connector ids and emails', async () => {
    const { errors } = await fail(
      `${BASE}
  - type: mockCallback
    id: mock
    name: Again
enablePasswordDB: true
staticPasswords:
  - { email: a@example.com, hash: '${HASH}', userID: a }
  - { email: A@example.com, hash: '${HASH}', userID: b }
`.replace(
        'connectors:',
        `  - id: example-app
    public: true
connectors:`,
      ),
    );
    expect(messageAt(errors, 'staticClients[1].id')).toContain('duplicate');
    expect(messageAt(errors, 'connectors[1].id')).toContain('duplicate');
    expect(messageAt(errors, 'staticPasswords[1].email')).toContain('duplicate');
  });

  it('checks bcrypt cost 10..16 and the hash format', async () => {
    const costly = HASH.replace('$10$', '$17$');
    const { errors } = await fail(`${BASE}
enablePasswordDB: true
staticPasswords:
  - { email: a@example.com, hash: '${costly}', userID: a }
  - { email: b@example.com, hash: 'plaintext-password', userID: b }
  - { email: c@example.com, userID: c }
  - { email: d@example.com, hashFromEnv: UNSET_HASH, userID: d }
`);
    expect(messageAt(errors, 'staticPasswords[0].hash')).toContain('cost 17');
    expect(messageAt(errors, 'staticPasswords[1].hash')).toContain('not a bcrypt hash');
    expect(messageAt(errors, 'staticPasswords[2].hash')).toContain('hash or hashFromEnv is required');
    expect(messageAt(errors, 'staticPasswords[3].hashFromEnv')).toContain('UNSET_HASH is not set');
  });

  it('reports an unset idEnv/secretEnv variable', async () => {
    const { errors } = await fail(
      BASE.replace(
        '- id: example-app\n    secret: ZXhhbXBsZS1hcHAtc2VjcmV0',
        '- idEnv: NO_ID\n    secretEnv: NO_SECRET',
      ),
    );
    expect(messageAt(errors, 'staticClients[0].idEnv')).toContain('NO_ID is not set');
    expect(messageAt(errors, 'staticClients[0].secretEnv')).toContain('NO_SECRET is not set');
  });

  it('suggests the closest key for a typo at any depth', async () => {
    const { errors } = await fail(
      BASE.replace('redirectURIs:', 'redirectURI:').replace('web:\n  http:', 'web:\n  htp: x\n  http:'),
    );
    expect(messageAt(errors, 'staticClients[0].redirectURI')).toContain('did you mean "redirectURIs"');
    expect(messageAt(errors, 'web.htp')).toContain('did you mean "http"');
  });

  it("treats a connector's config keys like the rest: the closest key suggested, case-only misspellings read", async () => {
    const withPw = (config: string) =>
      BASE.replace(
        'connectors:\n',
        `connectors:\n  - type: mockPassword\n    id: pw\n    name: Password\n    config:\n${config}`,
      );
    const { errors } = await fail(withPw('      username: kilgore\n      pasword: trout\n'));
    expect(messageAt(errors, 'connectors[0].config.pasword')).toContain('did you mean "password"');
    // One error for the key, not a second generic "unrecognized key" from the schema.
    expect(errors.filter((e) => e.path.startsWith('connectors[0].config'))).toHaveLength(2);
    const { config, warnings } = await ok(withPw('      username: kilgore\n      Password: trout\n'));
    expect(messageAt(warnings, 'connectors[0].config.Password')).toContain('read as "password"');
    expect(config.connectors[0]?.config).toEqual({ username: 'kilgore', password: 'trout' });
  });

  it('reports YAML syntax errors with their line', async () => {
    const { errors } = await fail('issuer: http://x\nstorage: [\n');
    expect(errors[0]?.message).toMatch(/YAML line \d+/);
    const dup = await fail('issuer: a\nissuer: b\n');
    expect(dup.errors[0]?.message).toContain('YAML');
    // A templated (non-YAML) file gives a handful of located errors, not hundreds.
    const template = await fail(
      Array.from({ length: 20 }, (_, i) => `{{- if getenv "X${i}" }}\nkey${i}: 1\n{{- end }}`).join('\n'),
    );
    expect(template.errors.length).toBe(6);
    expect(template.errors[5]?.message).toMatch(/^YAML: \d+ more syntax errors after these$/);
  });

  it('refuses an empty file and a non-mapping', async () => {
    expect((await fail('')).errors[0]?.message).toContain('empty');
    expect((await fail('- a\n- b\n')).errors[0]?.message).toContain('mapping');
  });

  it('refuses "plain"-only PKCE, "token" alone and unknown response types', async () => {
    const { errors, warnings } = await fail(`${BASE}
oauth2:
  responseTypes: [code, token, bogus, id_token]
  pkce:
    codeChallengeMethodsSupported: [plain]
`);
    expect(messageAt(errors, 'oauth2.responseTypes[1]')).toContain('alone');
    expect(messageAt(errors, 'oauth2.responseTypes[2]')).toContain('unsupported');
    expect(messageAt(warnings, 'oauth2.responseTypes[3]')).toContain('authorization-code flow');
    expect(messageAt(errors, 'oauth2.pkce.codeChallengeMethodsSupported')).toContain('S256');
    expect(messageAt(warnings, 'oauth2.pkce.codeChallengeMethodsSupported[0]')).toContain('plain');
  });

  it('keeps the grant types Gatehouse offers and warns about the Dex ones it does not', async () => {
    const { config, warnings } = await ok(`${BASE}
oauth2:
  grantTypes:
    - authorization_code
    - refresh_token
    - urn:ietf:params:oauth:grant-type:device_code
    - urn:ietf:params:oauth:grant-type:token-exchange
    - implicit
    - password
    - client_credentials
  responseTypes: [code, "token id_token"]
`);
    expect(config.oauth2.grantTypes).toEqual([
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'client_credentials',
    ]);
    expect(config.oauth2.responseTypes).toEqual(['code']);
    expect(warnings.map((w) => w.path)).not.toContain('oauth2.grantTypes[2]');
    expect(messageAt(warnings, 'oauth2.grantTypes[3]')).toContain('token exchange');
    expect(messageAt(warnings, 'oauth2.grantTypes[4]')).toContain('authorization-code flow');
    expect(messageAt(warnings, 'oauth2.grantTypes[5]')).toContain('passwordConnector');
    expect(messageAt(warnings, 'oauth2.responseTypes[1]')).toContain('"id_token token" is ignored');
  });

  it('never quotes secrets in messages', async () => {
    const secret = 'Sup3rSecretClientValue-ABC';
    const password = 'hunter2-Connector-Password';
    const hash = '$2a$04$SECRETHASHSECRETHASHSECRETHASHSECRETHASHSECRETHASHSEC';
    const r = await loadConfig(
      `${BASE}
  - type: mockPassword
    id: pw
    name: Password
    config:
      username: 12
      password: '${password}'
      extra: '${password}'
  - type: github
    id: gh
    name: GitHub
    config:
      clientSecret: '${password}'
      clientID: 42
staticClients:
  - id: leaky
    secret: '${secret}'
    secretEnv: ALSO
    redirectURIs: ['${secret}']
enablePasswordDB: true
staticPasswords:
  - { email: '${secret}', hash: '${hash}', userID: 1 }
`,
      { env: { ALSO: secret }, registry, baseDir: '/' },
    );
    expect(r.ok).toBe(false);
    const text = JSON.stringify(r);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(password);
    expect(text).not.toContain('SECRETHASH');
  });
});

describe('loadConfig: Dex keys Gatehouse does not implement', () => {
  it('warns, naming the key and what to use instead, and still loads', async () => {
    const { config, warnings } = await ok(`${BASE.replace(
      'web:\n  http: 127.0.0.1:5556',
      `web:
  http: 127.0.0.1:5556
  tlsMinVersion: "1.2"
  clientRemoteIP:
    header: X-Forwarded-For`,
    )}
grpc:
  addr: 127.0.0.1:5557
telemetry:
  http: 127.0.0.1:5558
  enableProfiling: true
logger:
  level: DEBUG
  excludeFields: [email]
frontend:
  dir: /srv/web
  theme: tectonic
signer:
  type: vault
  config:
    addr: https://vault.example
sessions:
  cookieName: x
`);
    const at = (p: string) => messageAt(warnings, p);
    expect(at('grpc')).toContain('gRPC');
    expect(at('web.tlsMinVersion')).toContain('TLS');
    expect(at('web.clientRemoteIP')).toContain('web.trustedProxies');
    expect(at('telemetry.enableProfiling')).toContain('--cpu-prof');
    expect(at('logger.excludeFields')).toContain('redacted');
    expect(at('frontend.dir')).toContain('frontend.colors');
    expect(at('frontend.theme')).toContain('light');
    expect(at('signer.type')).toContain('vault');
    expect(at('sessions')).toContain('not supported');
    expect(config.logger.level).toBe('debug');
    expect(config.telemetry).toEqual({ http: '127.0.0.1:5558' });
    expect(config.frontend.theme).toBe('light');
  });

  it('warns about per-client and per-connector Dex-only fields that restrict nothing', async () => {
    const { config, warnings } = await ok(
      BASE.replace('    name: Example App', '    name: Example App\n    ssoSharedWith: [other]').replace(
        "redirectURIs: ['http://127.0.0.1:5555/callback']",
        "redirectURIs: ['http://127.0.0.1:5555/callback', /dex/device/callback]",
      ),
    );
    expect(messageAt(warnings, 'staticClients[0].ssoSharedWith')).toContain('not supported');
    expect(messageAt(warnings, 'staticClients[0].redirectURIs[1]')).toContain('needs no redirect URI');
    expect(config.staticClients[0]?.redirectURIs).toEqual(['http://127.0.0.1:5555/callback']);
  });

  it('refuses to start on Dex access restrictions it cannot enforce, naming each key', async () => {
    const { errors } = await fail(
      `${BASE.replace(
        '    name: Example App',
        '    name: Example App\n    mfaChain: [totp]\n    refreshTokenLifetime: 1h',
      )
        .replace('    name: Example\n', '    name: Example\n    grantTypes: [authorization_code]\n')
        .replace('web:\n  http: 127.0.0.1:5556', 'web:\n  http: 127.0.0.1:5556\n  tlsMinVersion: "1.3"')}
mfa:
  authenticators: []
`,
    );
    for (const p of [
      'mfa',
      'staticClients[0].mfaChain',
      'staticClients[0].refreshTokenLifetime',
      'connectors[0].grantTypes',
      'web.tlsMinVersion',
    ]) {
      expect(messageAt(errors, p)).toContain('refusing to start rather than ignore an access restriction');
    }
  });

  it('reads staticClients[].allowedConnectors and warns about ids it does not know', async () => {
    const { config, warnings } = await ok(
      BASE.replace('    name: Example App', '    name: Example App\n    allowedConnectors: [mock, ldap-later]'),
    );
    expect(config.staticClients[0]?.allowedConnectors).toEqual(['mock', 'ldap-later']);
    expect(messageAt(warnings, 'staticClients[0].allowedConnectors[1]')).toContain('ldap-later');
    const { config: open } = await ok(BASE);
    expect(open.staticClients[0]?.allowedConnectors).toBeUndefined();
  });

  it('reads a key spelled with other case, with a warning', async () => {
    const { config, warnings } = await ok(BASE.replace('redirectURIs:', 'redirectUris:'));
    expect(config.staticClients[0]?.redirectURIs).toEqual(['http://127.0.0.1:5555/callback']);
    expect(messageAt(warnings, 'staticClients[0].redirectUris')).toContain('redirectURIs');
  });
});

describe('loadConfig: $VAR expansion exactly where Dex does it', () => {
  const text = `
issuer: http://127.0.0.1:5556/$PREFIX
storage:
  type: sqlite3
  config:
    file: \${DB_DIR}/g.db
web:
  http: 127.0.0.1:5556
staticClients:
  - id: $CLIENT
    secret: pa$$word-is-long-enough
    redirectURIs: ['http://127.0.0.1:5555/callback']
connectors:
  - type: mockPassword
    id: pw
    name: Password
    config:
      username: $USER_NAME
      password: p-\${PASS}-$UNSET_ONE
`;
  const env = { PREFIX: 'dex', DB_DIR: '/var/lib', CLIENT: 'c', USER_NAME: 'kilgore', PASS: 'x' };

  it('expands storage.config and connectors[].config, not issuer or staticClients', async () => {
    const { config, warnings } = await ok(text, env);
    expect(config.issuer).toBe('http://127.0.0.1:5556/$PREFIX');
    expect(config.staticClients[0]?.id).toBe('$CLIENT');
    expect(config.staticClients[0]?.secret).toBe('pa$$word-is-long-enough');
    expect(config.storage).toEqual({ type: 'sqlite3', config: { file: '/var/lib/g.db' } });
    expect(config.connectors[0]?.config).toEqual({ username: 'kilgore', password: 'p-x-' });
    expect(messageAt(warnings, 'connectors[0].config.password')).toContain('UNSET_ONE is not set');
  });

  it('is switched off by DEX_EXPAND_ENV=false, and GATEHOUSE_EXPAND_ENV wins', async () => {
    const off = await ok(text, { ...env, DEX_EXPAND_ENV: 'false' });
    expect(off.config.connectors[0]?.config).toEqual({ username: '$USER_NAME', password: 'p-${PASS}-$UNSET_ONE' });
    const on = await ok(text, { ...env, DEX_EXPAND_ENV: 'false', GATEHOUSE_EXPAND_ENV: 'true' });
    expect(on.config.connectors[0]?.config).toEqual({ username: 'kilgore', password: 'p-x-' });
  });
});

describe('loadConfig: connector configs through the registry', () => {
  const strictFactory: ConnectorFactory<{ tenant: string; mode: string }> = {
    type: 'acme',
    kitVersion: CONNECTOR_KIT_VERSION,
    configSchema: z.strictObject({ tenant: z.string().min(3), mode: z.enum(['a', 'b']).default('a') }),
    warnings: (c) => (c.mode === 'b' ? ['mode "b" cannot be enforced'] : []),
    open: () => {
      throw new Error('not opened by the loader');
    },
  };
  const withAcme = createRegistry([strictFactory]);

  it("reports schema issues under connectors[i].config and surfaces the factory's warnings", async () => {
    const text = `${BASE}
  - type: acme
    id: acme-1
    name: Acme
    config: { tenant: x, mode: c, tenantt: y }
  - type: acme
    id: acme-2
    name: Acme 2
    config: { tenant: xyz, mode: b }
`;
    const r = await loadConfig(text, { env: {}, registry: withAcme });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(paths(r.errors)).toEqual(
      expect.arrayContaining([
        'connectors[1].config.tenant',
        'connectors[1].config.mode',
        'connectors[1].config.tenantt',
      ]),
    );
    expect(messageAt(r.errors, 'connectors[1].config.tenantt')).toContain('did you mean "tenant"');
    expect(messageAt(r.warnings, 'connectors[2].config')).toContain('cannot be enforced');
  });

  it('keeps the expanded raw config for openConnectors to parse', async () => {
    const r = await loadConfig(
      `${BASE}
  - type: acme
    id: acme
    name: Acme
    config: { tenant: $T }
`,
      { env: { T: 'contoso' }, registry: withAcme },
    );
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.connectors[1]?.config).toEqual({ tenant: 'contoso' });
  });

  it('refuses an explicit local connector and the reserved id with the password DB', async () => {
    const { errors } = await fail(`${BASE}
  - type: local
    id: local
    name: Email
enablePasswordDB: true
`);
    expect(messageAt(errors, 'connectors[1].type')).toContain('enablePasswordDB');
    expect(messageAt(errors, 'connectors[1].id')).toContain('local');
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves the sqlite3 file against the config file folder', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, BASE);
    const r = await loadConfigFile(file, { env: {}, registry });
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.config.storage).toEqual({ type: 'sqlite3', config: { file: path.join(dir, 'data/gatehouse.db') } });
  });

  it('reports an unreadable file as an error', async () => {
    const r = await loadConfigFile(path.join(dir, 'missing.yaml'), { env: {}, registry });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.message).toContain('ENOENT');
  });
});

describe('loadConfig: redirect URI schemes', () => {
  const clients = (yaml: string) =>
    BASE.replace(/staticClients:\n[\s\S]*?connectors:/, `staticClients:\n${yaml}\nconnectors:`);

  it('accepts a public native client with a private-use scheme and a loopback URI', async () => {
    const { config } = await ok(
      clients(`  - id: mobile
    public: true
    redirectURIs: ['com.example.app:/oauth2redirect', 'http://127.0.0.1:8000/cb']
    postLogoutRedirectURIs: ['com.example.app:/logout']`),
    );
    expect(config.staticClients[0]?.redirectURIs).toEqual([
      'com.example.app:/oauth2redirect',
      'http://127.0.0.1:8000/cb',
    ]);
  });

  it('rejects javascript:/data:/custom schemes on confidential clients and bad mixes on native ones, with key paths', async () => {
    const { errors } = await fail(
      clients(`  - id: example-app
    secret: ZXhhbXBsZS1hcHAtc2VjcmV0
    redirectURIs:
      - 'http://127.0.0.1:5555/callback'
      - 'javascript://127.0.0.1/%0aalert(document.domain)'
      - 'data:text/html,hi'
      - 'com.example.app:/cb'
    postLogoutRedirectURIs: ['javascript:alert(1)', 'myapp:/bye']
  - id: mobile
    public: true
    redirectURIs: ['com.example.app:/cb', 'http://app.internal/cb']
    postLogoutRedirectURIs: ['vbscript:x']`),
    );
    expect(messageAt(errors, 'staticClients[0].redirectURIs[1]')).toContain('javascript: scheme is never allowed');
    expect(messageAt(errors, 'staticClients[0].redirectURIs[2]')).toContain('data: scheme is never allowed');
    expect(messageAt(errors, 'staticClients[0].redirectURIs[3]')).toContain('confidential client may only use http(s)');
    expect(messageAt(errors, 'staticClients[0].postLogoutRedirectURIs[0]')).toContain('never allowed');
    expect(messageAt(errors, 'staticClients[0].postLogoutRedirectURIs[1]')).toContain('confidential client');
    expect(messageAt(errors, 'staticClients[1].redirectURIs[1]')).toContain('must be loopback');
    expect(messageAt(errors, 'staticClients[1].postLogoutRedirectURIs[0]')).toContain('never allowed');
    expect(paths(errors)).not.toContain('staticClients[0].redirectURIs[0]');
    expect(paths(errors)).not.toContain('staticClients[1].redirectURIs[0]');
  });
});
