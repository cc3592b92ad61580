import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlapd, type Slapd } from './index.ts';

const exec = promisify(execFile);

async function search(slapd: Slapd, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await exec('/usr/bin/ldapsearch', ['-LLL', '-o', 'ldif-wrap=no', ...args], {
    env: { ...process.env, ...env },
    timeout: 15_000,
  });
  return stdout;
}

describe('startSlapd', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd();
  });
  afterAll(async () => {
    await slapd?.stop();
  });

  it('serves the seeded directory to the service account, not to anonymous clients', async () => {
    const { service, users } = slapd.seed;
    const out = await search(slapd, [
      '-x',
      '-H',
      slapd.url,
      '-D',
      service.dn,
      '-w',
      service.password,
      '-b',
      slapd.baseDN,
      '(uid=jane)',
      'mail',
    ]);
    expect(out).toContain(`dn: ${users.jane.dn}`);
    expect(out).toContain(`mail: ${users.jane.mail}`);
    // Anonymous clients cannot even see the suffix.
    await expect(search(slapd, ['-x', '-H', slapd.url, '-b', slapd.baseDN, '(uid=jane)'])).rejects.toThrow(
      /No such object/,
    );
  });

  it('checks user passwords on bind', async () => {
    const { jane } = slapd.seed.users;
    await expect(
      search(slapd, ['-x', '-H', slapd.url, '-D', jane.dn, '-w', jane.password, '-b', jane.dn, '-s', 'base', 'uid']),
    ).resolves.toContain('uid: jane');
    await expect(
      search(slapd, ['-x', '-H', slapd.url, '-D', jane.dn, '-w', 'wrong', '-b', jane.dn, '-s', 'base']),
    ).rejects.toThrow(/Invalid credentials|exit code 49|Command failed/);
  });

  it('applies modifications and restarts on the same ports with its data', async () => {
    const {
      service,
      users: { jane },
    } = slapd.seed;
    await slapd.modify(`dn: ${jane.dn}\nchangetype: modify\nreplace: mail\nmail: jane.doe@example.org\n`);
    await slapd.addToGroup('admins', jane.dn);
    await slapd.removeFromGroup('loop-a', jane.dn); // groupOfNames needs one member left: loop-a keeps loop-b
    await slapd.pause();
    await expect(
      search(slapd, ['-x', '-H', slapd.url, '-o', 'nettimeout=2', '-b', slapd.baseDN, '(uid=jane)']),
    ).rejects.toThrow();
    await slapd.start();
    const out = await search(slapd, [
      '-x',
      '-H',
      slapd.url,
      '-D',
      service.dn,
      '-w',
      service.password,
      '-b',
      slapd.baseDN,
      '(uid=jane)',
      'mail',
    ]);
    expect(out).toContain('mail: jane.doe@example.org');
    const groups = await search(slapd, [
      '-x',
      '-H',
      slapd.url,
      '-D',
      service.dn,
      '-w',
      service.password,
      '-b',
      slapd.seed.groupsDN,
      `(member=${jane.dn})`,
      'cn',
    ]);
    expect(groups).toContain('cn: admins');
    expect(groups).not.toContain('cn: loop-a');
    expect(slapd.log()).toMatch(/BIND dn=/);
  });
});

describe('startSlapd TLS and cleanup', () => {
  it('serves LDAPS and StartTLS with the test CA, and removes its directory on stop', async () => {
    const slapd = await startSlapd();
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'slapd-test-ca-'));
    try {
      await writeFile(join(dir, 'ca.pem'), slapd.caCert);
      const env = { LDAPTLS_CACERT: join(dir, 'ca.pem'), LDAPTLS_REQCERT: 'demand' };
      const { service } = slapd.seed;
      const auth = ['-x', '-D', service.dn, '-w', service.password, '-b', slapd.baseDN, '(uid=john)', 'uid'];
      await expect(search(slapd, ['-H', slapd.ldapsURL, ...auth], env)).resolves.toContain('uid: john');
      await expect(search(slapd, ['-ZZ', '-H', slapd.url, ...auth], env)).resolves.toContain('uid: john');
      expect(existsSync(slapd.dir)).toBe(true);
      await slapd.stop();
      expect(existsSync(slapd.dir)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await slapd.stop();
    }
  });
});
