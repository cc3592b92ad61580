import { ConnectorError } from '@gatehouse/connector-kit';
import { type Slapd, startSlapd } from '@gatehouse/testkit/slapd';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFor, memoryLogger, noGroups, open, withGroups } from './helpers.ts';

let slapd: Slapd;
beforeAll(async () => {
  // This directory accepts unauthenticated binds (DN + empty password) as anonymous, the way a
  // misconfigured server would: a connector that let an empty password through would log anyone in.
  slapd = await startSlapd({ allowUnauthenticatedBind: true });
});
afterAll(async () => {
  await slapd?.stop();
});

describe('login over plain LDAP', () => {
  it('returns the identity with email, name, preferred username and nested groups', async () => {
    const { jane } = slapd.seed.users;
    const result = await open(configFor(slapd)).login(withGroups, 'jane', jane.password);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.identity).toMatchObject({
      userId: 'jane',
      username: 'Jane Doe',
      preferredUsername: 'jane',
      email: jane.mail,
      emailVerified: true,
      connectorData: { dn: jane.dn },
    });
    // developers → staff → everyone, and the loop-a ⇄ loop-b cycle, each once.
    expect([...(result.identity.groups ?? [])].sort()).toEqual(['developers', 'everyone', 'loop-a', 'loop-b', 'staff']);
  });

  it('without recursionGroupAttr returns direct groups only, and no groups without the groups scope', async () => {
    const { jane, john } = slapd.seed.users;
    const direct = configFor(slapd, {
      groupSearch: { baseDN: slapd.seed.groupsDN, userAttr: 'DN', groupAttr: 'member', nameAttr: 'cn' }, // Dex's legacy form
    });
    const r1 = await open(direct).login(withGroups, 'jane', jane.password);
    expect(r1.ok && [...(r1.identity.groups ?? [])].sort()).toEqual(['developers', 'loop-a']);
    const r2 = await open(configFor(slapd)).login(noGroups, 'john', john.password);
    expect(r2.ok && r2.identity.groups).toBeUndefined();
  });

  it('bounds nesting depth with groupSearch.maxNestingDepth', async () => {
    const { jane } = slapd.seed.users;
    const base = configFor(slapd);
    const oneLevel = configFor(slapd, { groupSearch: { ...base.groupSearch!, maxNestingDepth: 1 } });
    const r = await open(oneLevel).login(withGroups, 'jane', jane.password);
    expect(r.ok && [...(r.identity.groups ?? [])].sort()).toEqual(['developers', 'loop-a', 'loop-b', 'staff']);
  });

  it('maps idAttr entryUUID, several username attributes and emailSuffix', async () => {
    const { john } = slapd.seed.users;
    const base = configFor(slapd);
    const connector = open(
      configFor(slapd, {
        userSearch: {
          ...base.userSearch,
          username: ['uid', 'mail'],
          idAttr: 'entryUUID',
          nameAttr: 'uid',
          emailSuffix: 'corp.example',
        },
      }),
    );
    const byUid = await connector.login(noGroups, 'john', john.password);
    const byMail = await connector.login(noGroups, john.mail, john.password);
    expect(byUid.ok && byUid.identity.userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(byMail.ok && byMail.identity.userId).toBe(byUid.ok && byUid.identity.userId);
    expect(byUid.ok && byUid.identity.email).toBe('john@corp.example');
  });

  it('refuses a wrong password and an unknown user the same way', async () => {
    const connector = open(configFor(slapd));
    expect(await connector.login(withGroups, 'jane', 'not-her-password')).toEqual({ ok: false });
    expect(await connector.login(withGroups, 'nobody', 'whatever')).toEqual({ ok: false });
    expect(await connector.login(withGroups, 'jane', slapd.seed.users.john.password)).toEqual({ ok: false });
  });

  it('refuses an empty password without sending any bind, although this directory would accept one', async () => {
    const { jane } = slapd.seed.users;
    // The directory really does accept an unauthenticated bind for jane's DN...
    const raw = new Client({ url: slapd.url, connectTimeout: 3000, timeout: 5000 });
    try {
      await raw.bind(jane.dn, '');
    } finally {
      await raw.unbind();
    }
    const logBefore = slapd.log().length;
    // ...but the connector never gets that far.
    expect(await open(configFor(slapd)).login(withGroups, 'jane', '')).toEqual({ ok: false });
    expect(await open(configFor(slapd)).login(withGroups, '', 'x')).toEqual({ ok: false });
    const logAfter = slapd.log().slice(logBefore);
    expect(logAfter).not.toMatch(/BIND dn=/);
    expect(logAfter).not.toMatch(/ACCEPT from/);
  });

  it('never logs anyone in through filter metacharacters in the username', async () => {
    const { jane } = slapd.seed.users;
    const connector = open(configFor(slapd));
    const attempts = [
      '*',
      'j*',
      '*ane',
      ')(uid=*',
      'jane)(uid=*',
      'admin)(|(password=*',
      '*)(objectClass=*',
      'jane)(|(objectClass=*)',
      '\\6a\\61\\6e\\65', // "jane" hex-escaped: would match if the value were unescaped as filter text
      'jane\u0000',
      'jane\\',
      '(uid=jane)',
    ];
    for (const username of attempts) {
      for (const password of [jane.password, '*', 'x']) {
        expect({ username, result: await connector.login(withGroups, username, password) }).toEqual({
          username,
          result: { ok: false },
        });
      }
    }
    // The searches used escaped assertion values (RFC 4515), never the metacharacters as syntax.
    const log = slapd.log();
    expect(log).toContain('filter="(&(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))(uid=\\2A))"');
    expect(log).toContain('(uid=jane\\29\\28uid=\\2A)');
    expect(log).toContain('(uid=\\5C6a\\5C61\\5C6e\\5C65)');
  });

  it('logs in the user whose uid contains *()\\', async () => {
    const { special } = slapd.seed.users;
    const result = await open(configFor(slapd)).login(withGroups, special.uid, special.password);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.identity).toMatchObject({
      userId: special.uid,
      username: special.cn,
      groups: ['odd-ones'],
      connectorData: { dn: special.dn },
    });
    expect(await open(configFor(slapd)).login(withGroups, special.uid, 'wrong')).toEqual({ ok: false });
  });

  it('refuses a login when two entries match, and logs why', async () => {
    const logger = memoryLogger();
    const { twin } = slapd.seed.users;
    expect(await open(configFor(slapd), logger).login(withGroups, 'twin', twin.password)).toEqual({ ok: false });
    expect(logger.records.some((r) => r.level === 'warn' && /more than one entry/.test(r.msg ?? ''))).toBe(true);
  });

  it('refuses a user excluded by userSearch.filter (disabled) even with the right password', async () => {
    const { mallory } = slapd.seed.users;
    expect(await open(configFor(slapd)).login(withGroups, 'mallory', mallory.password)).toEqual({ ok: false });
    const noFilter = configFor(slapd);
    const anyone = open({ ...noFilter, userSearch: { ...noFilter.userSearch, filter: undefined } });
    expect((await anyone.login(withGroups, 'mallory', mallory.password)).ok).toBe(true);
  });

  it('reports a refused service account as an upstream error, never as a wrong password', async () => {
    const logger = memoryLogger();
    const connector = open(configFor(slapd, { bindPW: 'wrong-service-password' }), logger);
    const err = await connector.login(withGroups, 'jane', slapd.seed.users.jane.password).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('upstream_error');
    expect(JSON.stringify(logger.records)).not.toContain('wrong-service-password');
    expect(JSON.stringify(logger.records)).not.toContain(slapd.seed.users.jane.password);
  });
});
