import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ForwardAuthConfigError, loadForwardAuthConfig, validateForwardAuthConfig } from './load.ts';
import { parseDurationMs as parseDuration } from '@gatehouse/common';
import { cookieSecretBytes } from './secret.ts';

const dir = mkdtempSync(join(tmpdir(), 'fa-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secret = randomBytes(32).toString('base64');

const minimal = {
  oidc_issuer_url: 'http://127.0.0.1:5556/dex',
  client_id: 'oauth2-proxy',
  client_secret: 's3cret',
  redirect_url: 'https://app.example.com/oauth2/callback',
  cookie_secret: secret,
  email_domains: ['*'],
};

function issues(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ForwardAuthConfigError);
    return Object.fromEntries((err as ForwardAuthConfigError).issues.map((i) => [i.option, i.message]));
  }
  throw new Error('expected a configuration error');
}

describe('durations and secrets', () => {
  it('parses Go durations', () => {
    expect(parseDuration('168h')).toBe(168 * 3_600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('15m0s')).toBe(900_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '10', 'h', '1d', '1h x', '-1h']) expect(parseDuration(bad)).toBeUndefined();
  });

  it("reads every spelling of Go's time.ParseDuration, as oauth2-proxy does", () => {
    const { config } = validateForwardAuthConfig({
      ...minimal,
      cookie_expire: '+1.h',
      cookie_refresh: '.5m',
      cookie_csrf_expire: '900000000μs',
    });
    expect(config.cookie_expire).toBe(3_600_000);
    expect(config.cookie_refresh).toBe(30_000);
    expect(config.cookie_csrf_expire).toBe(900_000);
  });

  it('reads secrets as oauth2-proxy does', () => {
    expect(cookieSecretBytes(randomBytes(32).toString('base64'))?.length).toBe(32);
    expect(cookieSecretBytes(randomBytes(32).toString('base64url'))?.length).toBe(32);
    expect(cookieSecretBytes(randomBytes(16).toString('base64'))?.length).toBe(16);
    expect(cookieSecretBytes('0123456789abcdef0123456789abcdef')?.length).toBe(24); // base64 wins, as in oauth2-proxy
    expect(cookieSecretBytes('short')).toBeUndefined();
  });
});

describe('loadForwardAuthConfig', () => {
  it('applies defaults', () => {
    const { config } = validateForwardAuthConfig(minimal);
    expect(config.cookie_name).toBe('_oauth2_proxy');
    expect(config.cookie_secure).toBe(true);
    expect(config.cookie_expire).toBe(168 * 3_600_000);
    expect(config.trusted_proxy_ips).toEqual(['127.0.0.1', '::1']);
    expect(config.http_address).toBe('127.0.0.1:4180');
    expect(config.code_challenge_method).toBe('S256');
  });

  it('is idempotent on a validated config', () => {
    const { config } = validateForwardAuthConfig({ ...minimal, cookie_expire: '1h', cookie_refresh: '5m' });
    expect(validateForwardAuthConfig(config).config).toEqual(config);
  });

  it('merges file < env < flags, with oauth2-proxy and Gatehouse env prefixes', () => {
    const file = join(dir, 'fa.toml');
    writeFileSync(
      file,
      `provider = "oidc"
oidc_issuer_url = "http://127.0.0.1:5556/dex"
client_id = "from-file"
client_secret = "file-secret"
redirect_url = "https://app.example.com/oauth2/callback"
cookie_secret = "${secret}"
cookie_expire = "12h"
email_domains = ["example.com"]
set_xauthrequest = true
scope = "openid email"
`,
    );
    const { config } = loadForwardAuthConfig({
      argv: [
        '--config',
        file,
        '--client-id=from-flag',
        '--email-domain',
        'a.com',
        '--email-domain=b.com',
        '--cookie-secure=false',
      ],
      env: {
        OAUTH2_PROXY_CLIENT_ID: 'from-oauth2-env',
        OAUTH2_PROXY_SCOPE: 'openid email profile groups',
        GATEHOUSE_FA_SCOPE: 'openid gatehouse',
        OAUTH2_PROXY_COOKIE_REFRESH: '1h',
        GATEHOUSE_FA_WHITELIST_DOMAINS: '.example.com, app.other.org:8443',
      },
    });
    expect(config.client_id).toBe('from-flag');
    expect(config.scope).toBe('openid gatehouse');
    expect(config.cookie_expire).toBe(12 * 3_600_000);
    expect(config.cookie_refresh).toBe(3_600_000);
    expect(config.email_domains).toEqual(['a.com', 'b.com']);
    expect(config.whitelist_domains).toEqual(['.example.com', 'app.other.org:8443']);
    expect(config.cookie_secure).toBe(false);
    expect(config.set_xauthrequest).toBe(true);
  });

  it('reads secrets from files', () => {
    const f = join(dir, 'client-secret');
    writeFileSync(f, 'from-a-file\n');
    const { config } = validateForwardAuthConfig({ ...minimal, client_secret: undefined, client_secret_file: f });
    expect(config.client_secret).toBe('from-a-file');
    expect(issues(() => validateForwardAuthConfig({ ...minimal, client_secret_file: f })).client_secret_file).toMatch(
      /cannot be combined/,
    );
  });

  it('reports every problem at once, by option name', () => {
    const found = issues(() =>
      loadForwardAuthConfig({
        argv: [
          '--cookie-expire=soon',
          '--cookie-secret=short',
          '--trusted-proxy-ip=10.0.0.0/99',
          '--skip-auth-route=GET=(',
          '--bogus=1',
        ],
        values: {
          provider: 'github',
          redirect_url: 'not a url',
          whitelist_domains: ['evil.com/path'],
          extra_jwt_issuers: ['nope'],
        },
      }),
    );
    expect(Object.keys(found)).toEqual(
      expect.arrayContaining([
        'cookie_expire',
        'bogus',
        'provider',
        'oidc_issuer_url',
        'client_id',
        'redirect_url',
        'cookie_secret',
        'email_domains',
        'trusted_proxy_ips[0]',
        'skip_auth_routes[0]',
        'whitelist_domains[0]',
        'extra_jwt_issuers[0]',
      ]),
    );
    expect(found.client_id).toBe('is required');
    expect(found.email_domains).toBe('is required');
  });

  it('rejects cookie_refresh >= cookie_expire and SameSite=None without Secure', () => {
    const found = issues(() =>
      validateForwardAuthConfig({
        ...minimal,
        cookie_expire: '1h',
        cookie_refresh: '2h',
        cookie_samesite: 'none',
        cookie_secure: false,
      }),
    );
    expect(found.cookie_refresh).toMatch(/less than cookie_expire/);
    expect(found.cookie_samesite).toMatch(/cookie_secure/);
  });

  it('metrics_address: host:port from the file, env or a flag; must differ from http_address', () => {
    const file = join(dir, 'metrics.toml');
    writeFileSync(file, 'metrics_address = "127.0.0.1:9100"\n');
    const { config, warnings } = loadForwardAuthConfig({ configFile: file, values: minimal });
    expect(config.metrics_address).toBe('127.0.0.1:9100');
    expect(warnings.join('\n')).not.toMatch(/metrics_address/);
    expect(
      loadForwardAuthConfig({ env: { OAUTH2_PROXY_METRICS_ADDRESS: ':9100' }, values: minimal }).config.metrics_address,
    ).toBe(':9100');
    expect(
      loadForwardAuthConfig({ argv: ['--metrics-address=[::1]:9100'], values: minimal }).config.metrics_address,
    ).toBe('[::1]:9100');
    expect(validateForwardAuthConfig(minimal).config.metrics_address).toBeUndefined();
    expect(issues(() => validateForwardAuthConfig({ ...minimal, metrics_address: 'nope' })).metrics_address).toMatch(
      /host:port/,
    );
    expect(
      issues(() =>
        validateForwardAuthConfig({ ...minimal, http_address: '0.0.0.0:4180', metrics_address: 'http://0.0.0.0:4180' }),
      ).metrics_address,
    ).toMatch(/differ/);
  });

  it('session_store_type = "redis" with redis_connection_url, under oauth2-proxy\'s names, flags and environment', () => {
    expect(validateForwardAuthConfig(minimal).config.session_store_type).toBe('cookie');
    const env = loadForwardAuthConfig({
      env: { OAUTH2_PROXY_SESSION_STORE_TYPE: 'redis', OAUTH2_PROXY_REDIS_CONNECTION_URL: 'redis://redis:6379' },
      values: minimal,
    }).config;
    expect([env.session_store_type, env.redis_connection_url]).toEqual(['redis', 'redis://redis:6379']);
    const flags = loadForwardAuthConfig({
      argv: ['--session-store-type=redis', '--redis-connection-url', 'rediss://:pw@r.example:6380/2'],
      values: minimal,
    }).config;
    expect(flags.redis_connection_url).toBe('rediss://:pw@r.example:6380/2');
    expect(
      issues(() => validateForwardAuthConfig({ ...minimal, session_store_type: 'redis' })).redis_connection_url,
    ).toMatch(/required/);
    expect(
      issues(() => validateForwardAuthConfig({ ...minimal, session_store_type: 'memcached' })).session_store_type,
    ).toMatch(/cookie.*redis/);
    expect(
      issues(() =>
        validateForwardAuthConfig({ ...minimal, session_store_type: 'redis', redis_connection_url: 'http://x' }),
      ).redis_connection_url,
    ).toMatch(/redis:\/\//);
  });

  it('errors on unknown file keys, warns on unsupported options and unknown environment variables', () => {
    const file = join(dir, 'unknown.toml');
    writeFileSync(file, 'no_such_option = 1\n');
    expect(issues(() => loadForwardAuthConfig({ configFile: file, values: minimal })).no_such_option).toMatch(
      /unknown option/,
    );
    const { warnings } = loadForwardAuthConfig({
      values: { ...minimal, upstreams: ['http://127.0.0.1:8080'] },
      env: { OAUTH2_PROXY_REDIS_PASSWORD: 'x', GATEHOUSE_FA_NOPE: '1' },
    });
    expect(warnings.join('\n')).toMatch(/upstreams .*not implemented/);
    expect(warnings.join('\n')).toMatch(/redis_password .*not implemented/);
    expect(warnings.join('\n')).toMatch(/nope .*not a known option/);
  });

  it('reports an unreadable config file and a bad TOML file', () => {
    expect(
      issues(() => loadForwardAuthConfig({ configFile: join(dir, 'missing.toml'), values: minimal }))['--config'],
    ).toMatch(/cannot read/);
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, 'this is = = not toml');
    expect(issues(() => loadForwardAuthConfig({ configFile: bad, values: minimal }))['--config']).toBeDefined();
  });

  it('parses --config-test and boolean flags without values', () => {
    const r = loadForwardAuthConfig({
      argv: ['--config-test', '--set-xauthrequest', '--reverse-proxy', 'true'],
      values: minimal,
    });
    expect(r.configTest).toBe(true);
    expect(r.config.set_xauthrequest).toBe(true);
    expect(r.config.reverse_proxy).toBe(true);
  });
});
