import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectorError } from '@gatehouse/connector-kit';
import { type Slapd, startSlapd } from '@gatehouse/testkit/slapd';
import { createTestCA, type TestCA } from '@gatehouse/testkit/tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../src/index.ts';
import { configFor, open, parse, withGroups } from './helpers.ts';

let slapd: Slapd;
let otherCA: TestCA;
let dir: string;
beforeAll(async () => {
  [slapd, otherCA, dir] = await Promise.all([
    startSlapd(),
    createTestCA('Some Other CA'),
    mkdtemp(join(tmpdir(), 'ldap-tls-test-')),
  ]);
  await writeFile(join(dir, 'ca.pem'), slapd.caCert);
});
afterAll(async () => {
  await slapd?.stop();
  await rm(dir, { recursive: true, force: true });
});

const ldaps = () => ({ host: `127.0.0.1:${slapd.ldapsPort}`, insecureNoSSL: false });
const startTLS = () => ({ host: `localhost:${slapd.port}`, insecureNoSSL: false, startTLS: true });

async function loginJane(overrides: Parameters<typeof configFor>[1]) {
  return open(configFor(slapd, overrides)).login(withGroups, 'jane', slapd.seed.users.jane.password);
}

async function tlsFailure(overrides: Parameters<typeof configFor>[1]): Promise<ConnectorError> {
  const e = await loginJane(overrides).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConnectorError);
  return e as ConnectorError;
}

describe('LDAPS', () => {
  it('logs in with the CA given inline (rootCAData, PEM or base64)', async () => {
    expect((await loginJane({ ...ldaps(), rootCAData: slapd.caCert })).ok).toBe(true);
    expect((await loginJane({ ...ldaps(), rootCAData: Buffer.from(slapd.caCert).toString('base64') })).ok).toBe(true);
    expect(slapd.log()).toMatch(/conn=\d+ fd=\d+ TLS established/);
  });

  it('logs in with the CA given as a file (rootCA)', async () => {
    expect((await loginJane({ ...ldaps(), rootCA: join(dir, 'ca.pem') })).ok).toBe(true);
  });

  it('refuses a server certificate from another CA, or with no CA configured', async () => {
    const wrong = await tlsFailure({ ...ldaps(), rootCAData: otherCA.caCert });
    expect(wrong.code).toBe('upstream_error');
    expect(wrong.message).toMatch(/TLS/);
    expect((await tlsFailure(ldaps())).code).toBe('upstream_error');
  });

  it('accepts any certificate only with insecureSkipVerify, and warns about it', async () => {
    const config = configFor(slapd, { ...ldaps(), rootCAData: otherCA.caCert, insecureSkipVerify: true });
    expect((await open(config).login(withGroups, 'jane', slapd.seed.users.jane.password)).ok).toBe(true);
    expect(factory.warnings?.(parse(config)).join('\n')).toMatch(/insecureSkipVerify/);
  });
});

describe('StartTLS', () => {
  it('upgrades the plain connection and verifies the certificate against the host name', async () => {
    const before = slapd.log().length;
    expect((await loginJane({ ...startTLS(), rootCAData: slapd.caCert })).ok).toBe(true);
    const log = slapd.log().slice(before);
    expect(log).toMatch(/EXT oid=1\.3\.6\.1\.4\.1\.1466\.20037/);
    // The password travelled only after the upgrade: every BIND was on a TLS connection (ssf>0).
    expect(log).toMatch(/BIND dn="uid=jane,ou=People,dc=example,dc=org" mech=SIMPLE bind_ssf=0 ssf=(?!0\b)\d+/);
    expect(log).not.toMatch(/mech=SIMPLE bind_ssf=0 ssf=0\b/);
  });

  it('refuses a certificate from another CA', async () => {
    const before = slapd.log().length;
    const e = await tlsFailure({ ...startTLS(), rootCAData: otherCA.caCert });
    expect(e.code).toBe('upstream_error');
    expect(slapd.log().slice(before)).not.toMatch(/BIND dn=/); // nothing, not even the service bind, was sent
  });

  it('refuses a certificate that does not name the configured host', async () => {
    const misnamed = await startSlapd({ ca: slapd.ca, serverNames: ['ldap.elsewhere.test'] });
    try {
      for (const host of [`127.0.0.1:${misnamed.port}`, `localhost:${misnamed.port}`]) {
        const config = configFor(misnamed, { host, insecureNoSSL: false, startTLS: true, rootCAData: misnamed.caCert });
        const e = await open(config)
          .login(withGroups, 'jane', misnamed.seed.users.jane.password)
          .then(
            () => undefined,
            (err: unknown) => err as ConnectorError,
          );
        expect(e?.code).toBe('upstream_error');
        expect(e?.message).toMatch(/altnames|does not match|Hostname/i);
      }
      expect(misnamed.log()).not.toMatch(/BIND dn=/);
    } finally {
      await misnamed.stop();
    }
  });
});

describe('mutual TLS', () => {
  it('presents clientCert/clientKey to a server that demands a client certificate', async () => {
    const ca = await createTestCA('mTLS CA');
    const strict = await startSlapd({ ca, requireClientCert: true });
    try {
      const client = await ca.issueClient('gatehouse');
      await writeFile(join(dir, 'client.pem'), client.cert);
      await writeFile(join(dir, 'client.key'), client.key);
      const base = { host: `127.0.0.1:${strict.ldapsPort}`, insecureNoSSL: false, rootCAData: strict.caCert };
      const ok = await open(
        configFor(strict, { ...base, clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') }),
      ).login(withGroups, 'jane', strict.seed.users.jane.password);
      expect(ok.ok).toBe(true);
      const refused = await open(configFor(strict, base))
        .login(withGroups, 'jane', strict.seed.users.jane.password)
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused).toBeInstanceOf(ConnectorError);
    } finally {
      await strict.stop();
    }
  });
});
