import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { ConnectorError, type Identity } from '@gatehouse/connector-kit';
import { type Slapd, startSlapd } from '@gatehouse/testkit/slapd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFor, open, withGroups } from './helpers.ts';

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.stop();
});

async function loginAs(name: 'jane' | 'john'): Promise<Identity> {
  const user = slapd.seed.users[name];
  const result = await open(configFor(slapd)).login(withGroups, user.uid, user.password);
  if (!result.ok) throw new Error(`${name} could not log in`);
  return result.identity;
}

async function errorOf(work: Promise<unknown>): Promise<ConnectorError> {
  const e = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConnectorError);
  return e as ConnectorError;
}

describe('refresh', () => {
  it('re-reads groups by the stored DN and picks up a change', async () => {
    const identity = await loginAs('john');
    expect([...(identity.groups ?? [])].sort()).toEqual(['admins', 'everyone', 'staff']);
    await slapd.modify(
      `dn: cn=odd-ones,${slapd.seed.groupsDN}\nchangetype: modify\nadd: member\nmember: ${slapd.seed.users.john.dn}\n`,
    );
    const refreshed = await open(configFor(slapd)).refresh(withGroups, identity);
    expect([...(refreshed.groups ?? [])].sort()).toEqual(['admins', 'everyone', 'odd-ones', 'staff']);
    expect(refreshed.userId).toBe(identity.userId);
    expect(refreshed.connectorData).toEqual(identity.connectorData);
  });

  it('fails with refresh_failed once the user is disabled (no longer matches userSearch.filter)', async () => {
    const identity = await loginAs('jane');
    await slapd.modify(
      `dn: ${slapd.seed.users.jane.dn}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n`,
    );
    expect((await errorOf(open(configFor(slapd)).refresh(withGroups, identity))).code).toBe('refresh_failed');
    await slapd.modify(`dn: ${slapd.seed.users.jane.dn}\nchangetype: modify\ndelete: employeeType\n`);
    expect((await open(configFor(slapd)).refresh(withGroups, identity)).userId).toBe('jane');
  });

  it('fails with refresh_failed for a deleted user and for missing connector data', async () => {
    const identity = await loginAs('john');
    await slapd.modify(`dn: ${slapd.seed.users.john.dn}\nchangetype: delete\n`);
    expect((await errorOf(open(configFor(slapd)).refresh(withGroups, identity))).code).toBe('refresh_failed');
    expect(
      (await errorOf(open(configFor(slapd)).refresh(withGroups, { ...identity, connectorData: undefined }))).code,
    ).toBe('refresh_failed');
    expect(
      (await errorOf(open(configFor(slapd)).refresh(withGroups, { ...identity, connectorData: { dn: '' } }))).code,
    ).toBe('refresh_failed');
  });
});

describe('directory outages', () => {
  it('answers upstream_unavailable while slapd is down, then recovers when it returns', async () => {
    const connector = open(configFor(slapd));
    const { jane } = slapd.seed.users;
    const identity = await loginAs('jane');
    await slapd.pause();
    try {
      const err = await errorOf(connector.login(withGroups, 'jane', jane.password));
      expect(err.code).toBe('upstream_unavailable');
      expect(err.userMessage).toMatch(/directory is unavailable/i);
      expect((await errorOf(connector.refresh(withGroups, identity))).code).toBe('upstream_unavailable');
    } finally {
      await slapd.start();
    }
    expect((await connector.login(withGroups, 'jane', jane.password)).ok).toBe(true);
  });

  it('gives up on a server that accepts connections but never answers, within its timeouts', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const connector = open({
        ...configFor(slapd),
        host: `127.0.0.1:${port}`,
        connectTimeout: '300ms',
        requestTimeout: '500ms',
      });
      const err = await errorOf(connector.login(withGroups, 'jane', 'whatever'));
      expect(err.code).toBe('upstream_unavailable');
      expect(err.message).toMatch(/timeout|timed out/i);
      // LDAPS against a silent server: the TLS handshake is bounded by connectTimeout.
      const tls = open({
        ...configFor(slapd),
        host: `127.0.0.1:${port}`,
        insecureNoSSL: false,
        connectTimeout: '300ms',
        requestTimeout: '500ms',
      });
      expect((await errorOf(tls.login(withGroups, 'jane', 'whatever'))).code).toBe('upstream_unavailable');
      // StartTLS against a silent server: the extended operation is bounded too.
      const startTLS = open({
        ...configFor(slapd),
        host: `127.0.0.1:${port}`,
        startTLS: true,
        connectTimeout: '300ms',
        requestTimeout: '500ms',
      });
      expect((await errorOf(startTLS.login(withGroups, 'jane', 'whatever'))).code).toBe('upstream_unavailable');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('answers upstream_unavailable for a port nobody listens on', async () => {
    const { getFreePort } = await import('@gatehouse/testkit/ports');
    const connector = open({ ...configFor(slapd), host: `127.0.0.1:${await getFreePort()}` });
    expect((await errorOf(connector.login(withGroups, 'jane', 'x'))).code).toBe('upstream_unavailable');
  });
});
