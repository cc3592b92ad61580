import { createHash, randomBytes } from 'node:crypto';

/** `{SSHA}` hash as OpenLDAP stores it (so the seed holds no clear-text passwords). */
export function sshaHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** Escapes an RDN value per RFC 4514 with hex pairs (`\5C`), the form slapd returns DNs in. */
export function escapeRdnValue(value: string): string {
  const hex = (c: string): string => `\\${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  let out = value.replace(/[\\,+"<>;=\0]/g, hex);
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** A seeded user: what tests log in with and what they expect back. */
export interface SeedUser {
  uid: string;
  dn: string;
  password: string;
  cn: string;
  mail: string;
}

/** The seeded directory, described for tests. */
export interface SeedDirectory {
  baseDN: string;
  peopleDN: string;
  groupsDN: string;
  /** Read-only service account for the connector's `bindDN`/`bindPW`. */
  service: { dn: string; password: string };
  users: {
    /** In `developers` → `staff` → `everyone`, and in the `loop-a`/`loop-b` cycle. */
    jane: SeedUser;
    /** In `admins` → `staff` → `everyone`. */
    john: SeedUser;
    /** Carries `employeeType: disabled` (excluded by `disabledUserFilter`). */
    mallory: SeedUser;
    /** uid and cn contain the RFC 4515 filter metacharacters `*()\`; member of `odd-ones`. */
    special: SeedUser;
    /** Two entries share `uid=twin` (one in People, one in Contractors): a login must be refused. */
    twin: SeedUser;
  };
  /** A user-search filter that matches enabled people only. */
  enabledUserFilter: string;
  ldif: string;
}

export function seedDirectory(baseDN: string): SeedDirectory {
  const peopleDN = `ou=People,${baseDN}`;
  const contractorsDN = `ou=Contractors,${baseDN}`;
  const groupsDN = `ou=Groups,${baseDN}`;
  const servicesDN = `ou=Services,${baseDN}`;
  const service = { dn: `cn=gatehouse,${servicesDN}`, password: 'service-secret' };
  const user = (uid: string, cn: string, parent = peopleDN): SeedUser => ({
    uid,
    dn: `uid=${escapeRdnValue(uid)},${parent}`,
    password: `${uid.replace(/[^a-z]/gi, '')}-pass-${uid.length}`,
    cn,
    mail: `${uid.replace(/[^a-z]/gi, '')}@example.org`,
  });
  const users = {
    jane: user('jane', 'Jane Doe'),
    john: user('john', 'John Smith'),
    mallory: user('mallory', 'Mallory Disabled'),
    special: user('o*(dd)\\name', 'O*(dd)\\ Name'),
    twin: user('twin', 'Twin One'),
  };
  const twin2 = { ...user('twin', 'Twin Two', contractorsDN), password: users.twin.password };
  const dc = /^dc=([^,]+)/i.exec(baseDN)?.[1] ?? 'example';

  const entry = (dn: string, lines: string[]): string => [`dn: ${dn}`, ...lines].join('\n');
  const person = (u: SeedUser, extra: string[] = []): string =>
    entry(u.dn, [
      'objectClass: inetOrgPerson',
      `uid: ${u.uid}`,
      `cn: ${u.cn}`,
      `sn: ${u.cn.split(' ').pop() ?? u.cn}`,
      `mail: ${u.mail}`,
      `userPassword: ${sshaHash(u.password)}`,
      ...extra,
    ]);
  const group = (cn: string, members: string[]): string =>
    entry(`cn=${cn},${groupsDN}`, ['objectClass: groupOfNames', `cn: ${cn}`, ...members.map((m) => `member: ${m}`)]);
  const groupDN = (cn: string): string => `cn=${cn},${groupsDN}`;

  const ldif = [
    entry(baseDN, ['objectClass: dcObject', 'objectClass: organization', `dc: ${dc}`, 'o: Gatehouse Test']),
    ...[peopleDN, contractorsDN, groupsDN, servicesDN].map((dn) =>
      entry(dn, ['objectClass: organizationalUnit', `ou: ${/^ou=([^,]+)/.exec(dn)?.[1] ?? ''}`]),
    ),
    entry(service.dn, [
      'objectClass: applicationProcess',
      'objectClass: simpleSecurityObject',
      'cn: gatehouse',
      `userPassword: ${sshaHash(service.password)}`,
    ]),
    person(users.jane),
    person(users.john),
    person(users.mallory, ['employeeType: disabled']),
    person(users.special),
    person(users.twin),
    person(twin2),
    group('developers', [users.jane.dn]),
    group('admins', [users.john.dn]),
    group('staff', [groupDN('developers'), groupDN('admins')]),
    group('everyone', [groupDN('staff')]),
    group('loop-a', [users.jane.dn, groupDN('loop-b')]),
    group('loop-b', [groupDN('loop-a')]),
    group('odd-ones', [users.special.dn]),
    group('disabled-people', [users.mallory.dn]),
  ].join('\n\n');

  return {
    baseDN,
    peopleDN,
    groupsDN,
    service,
    users,
    enabledUserFilter: '(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))',
    ldif: `${ldif}\n`,
  };
}
