/**
 * The ldap connector inside the real issuer, against a real OpenLDAP (slapd) on loopback:
 * the password form, tokens for an openid-client relying party, refresh, outages and throttling.
 */
import { type Slapd, startSlapd } from '@gatehouse/testkit/slapd';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningIssuer } from '../src/index.ts';
import { decodeSubject } from '../src/server/grants/subject.ts';
import { browse, CookieJar, formAction, startTestIssuer } from '../src/testing/index.ts';
import { authorizationRequest, authorize, discover, redeem, REDIRECT } from './helpers.ts';

let slapd: Slapd;
let issuer: RunningIssuer;
let rp: client.Configuration;

function ldapConfig(s: Slapd) {
  return {
    host: `localhost:${s.port}`,
    startTLS: true,
    rootCAData: s.caCert,
    bindDN: s.seed.service.dn,
    bindPW: s.seed.service.password,
    usernamePrompt: 'Corporate username',
    userSearch: {
      baseDN: s.seed.peopleDN,
      filter: s.seed.enabledUserFilter,
      username: 'uid',
      idAttr: 'uid',
      emailAttr: 'mail',
      nameAttr: 'cn',
      preferredUsernameAttr: 'uid',
    },
    groupSearch: {
      baseDN: s.seed.groupsDN,
      filter: '(objectClass=groupOfNames)',
      userMatchers: [{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'DN' }],
      nameAttr: 'cn',
    },
    connectTimeout: '2s',
    requestTimeout: '3s',
  };
}

beforeAll(async () => {
  slapd = await startSlapd();
  issuer = await startTestIssuer({
    connectors: [{ type: 'ldap', id: 'ldap', name: 'LDAP', config: ldapConfig(slapd) }],
  });
  rp = await discover(issuer);
});
afterAll(async () => {
  await issuer?.close();
  await slapd?.stop();
});

async function authURL(scope = 'openid email profile groups'): Promise<string> {
  return (await authorizationRequest(rp, scope)).url.toString();
}

/** Opens the password form of a fresh login and returns a function that submits it. */
async function passwordForm(): Promise<(login: string, password: string) => ReturnType<typeof browse>> {
  const jar = new CookieJar();
  const page = await browse(jar, await authURL());
  expect(page.status).toBe(200);
  expect(page.body).toContain('name="password"');
  const target = formAction(page);
  return (login, password) => browse(jar, target, { form: { login, password }, stopAt: REDIRECT });
}

const alert = (body: string) => /role="alert"[^>]*>([^<]*)</.exec(body)?.[1];

describe('ldap connector through the issuer', () => {
  it('shows the configured prompt and logs in over StartTLS: id_token with email, name and nested groups', async () => {
    const page = await browse(new CookieJar(), await authURL());
    expect(page.body).toContain('Corporate username');
    const { jane } = slapd.seed.users;
    const a = await authorize(rp, 'openid email profile groups', { username: 'jane', password: jane.password });
    const tokens = await redeem(rp, a);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      email: jane.mail,
      email_verified: true,
      name: 'Jane Doe',
      preferred_username: 'jane',
    });
    expect([...(claims.groups as string[])].sort()).toEqual(['developers', 'everyone', 'loop-a', 'loop-b', 'staff']);
    expect(decodeSubject(claims.sub)).toEqual({ userId: 'jane', connectorId: 'ldap' });
    // The connector's DN stays server-side.
    expect(JSON.stringify(claims)).not.toContain('ou=People');
  });

  it('logs in the user whose name contains *()\\', async () => {
    const { special } = slapd.seed.users;
    const tokens = await redeem(
      rp,
      await authorize(rp, 'openid email profile groups', { username: special.uid, password: special.password }),
    );
    expect(tokens.claims()).toMatchObject({ name: special.cn, groups: ['odd-ones'] });
  });

  it('answers a wrong password and an unknown user with the same message, on the form again', async () => {
    const submit = await passwordForm();
    const wrong = await submit('john', 'not-johns-password');
    const unknown = await submit('nobody-here', 'whatever');
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body).toContain('name="password"');
    }
    expect(alert(wrong.body)).toBe('Invalid username or password.');
    expect(alert(unknown.body)).toBe(alert(wrong.body));
  });

  it('never logs anyone in through filter metacharacters in the username', async () => {
    const submit = await passwordForm();
    for (const login of ['*', ')(uid=*', 'admin)(|(password=*', '*)(objectClass=*', 'j*']) {
      const r = await submit(login, slapd.seed.users.john.password);
      expect({ login, status: r.status, location: r.location }).toEqual({ login, status: 401, location: undefined });
      expect(alert(r.body)).toBe('Invalid username or password.');
    }
  });

  it('shows a "directory unavailable" page (502, not 500) while slapd is down, then recovers', async () => {
    const submit = await passwordForm();
    await slapd.pause();
    try {
      const down = await submit('john', slapd.seed.users.john.password);
      expect(down.status).toBe(502);
      expect(down.body).toContain('The directory is unavailable. Please try again later.');
      expect(down.body).not.toContain(slapd.seed.users.john.password);
      expect(down.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:\d+/);
    } finally {
      await slapd.start();
    }
    const again = await submit('john', slapd.seed.users.john.password);
    expect(again.location).toMatch(/[?&]code=/);
  });

  it('refresh picks up a changed group, and fails once the user is disabled', async () => {
    const { john } = slapd.seed.users;
    const tokens = await redeem(
      rp,
      await authorize(rp, 'openid email profile groups offline_access', { username: 'john', password: john.password }),
    );
    expect([...(tokens.claims()!.groups as string[])].sort()).toEqual(['admins', 'everyone', 'staff']);
    expect(tokens.refresh_token).toBeTruthy();

    await slapd.modify(
      `dn: cn=developers,${slapd.seed.groupsDN}\nchangetype: modify\nadd: member\nmember: ${john.dn}\n`,
    );
    const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
    expect([...(refreshed.claims()!.groups as string[])].sort()).toEqual(['admins', 'developers', 'everyone', 'staff']);

    await slapd.modify(`dn: ${john.dn}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n`);
    try {
      const failure = await client.refreshTokenGrant(rp, refreshed.refresh_token!).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(client.ResponseBodyError);
      expect((failure as client.ResponseBodyError).error).toBe('invalid_grant');
    } finally {
      await slapd.modify(`dn: ${john.dn}\nchangetype: modify\ndelete: employeeType\n`);
    }
  });

  it('answers repeated failures for one username with the limiter message (429)', async () => {
    const submit = await passwordForm();
    for (let i = 0; i < 5; i++) expect((await submit('jane', `guess-${i}`)).status).toBe(401);
    const blocked = await submit('jane', slapd.seed.users.jane.password); // even the right password now
    expect(blocked.status).toBe(429);
    expect(alert(blocked.body)).toMatch(/Too many attempts, try again in \d+ minutes?\./);
    expect(blocked.location).toBeUndefined();
  });
});
