import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort, waitForPort } from '../ports.ts';
import { requireProgram } from '../programs.ts';
import { ServerProcess } from '../server-process.ts';
import { createTestCA, type TestCA } from '../tls.ts';
import { escapeRdnValue, seedDirectory, type SeedDirectory } from './seed.ts';

export { escapeRdnValue, sshaHash, type SeedDirectory, type SeedUser } from './seed.ts';

const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'];
const MAX_LOG = 1 << 20;

export interface SlapdOptions {
  /** Suffix of the directory. Default `dc=example,dc=org`. */
  baseDN?: string;
  /** CA that signs the server certificate (default: a fresh one). */
  ca?: TestCA;
  /** Extra LDIF entries added after the seed. */
  extraLDIF?: string;
  /** `allow bind_anon_dn`: a simple bind with a DN and an empty password succeeds (as anonymous).
   * Lets tests prove a client never sends such a bind. */
  allowUnauthenticatedBind?: boolean;
  /** Names in the server certificate. Default `['localhost', '127.0.0.1']`. */
  serverNames?: string[];
  /** `TLSVerifyClient demand`: TLS clients must present a certificate signed by `ca`. */
  requireClientCert?: boolean;
}

export interface Slapd {
  /** `ldap://127.0.0.1:port` (StartTLS available). */
  url: string;
  /** `ldaps://127.0.0.1:ldapsPort`. */
  ldapsURL: string;
  port: number;
  ldapsPort: number;
  /** PEM of the CA that signed the server certificate (valid for `serverNames`). */
  caCert: string;
  ca: TestCA;
  baseDN: string;
  adminDN: string;
  adminPW: string;
  seed: SeedDirectory;
  /** Temporary directory holding the config, certificates and database (removed by `stop()`). */
  dir: string;
  /** Applies LDIF change records (changetype: modify/add/delete) as the admin. */
  modify(ldif: string): Promise<void>;
  /** Adds `memberDN` to the `member` list of `cn=<group>` under the seeded groups OU. */
  addToGroup(group: string, memberDN: string): Promise<void>;
  /** Removes `memberDN` from `cn=<group>` (groupOfNames must keep at least one member). */
  removeFromGroup(group: string, memberDN: string): Promise<void>;
  /** slapd's `stats` log so far (connections, BIND/SRCH operations and results). */
  log(): string;
  /** SIGSTOP: slapd keeps its sockets but answers nothing (a hung server). */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** Stops slapd, keeping the database and ports (for outage tests). */
  pause(): Promise<void>;
  /** Starts slapd again on the same ports after `pause()`. */
  start(): Promise<void>;
  /** Stops slapd and removes its temporary directory. */
  stop(): Promise<void>;
}

function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 30_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args[0] ?? ''} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function slapdConf(dir: string, baseDN: string, adminDN: string, adminPW: string, options: SlapdOptions): string {
  return [
    ...SCHEMAS.map((s) => `include /etc/ldap/schema/${s}.schema`),
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
    `TLSCertificateFile ${join(dir, 'server.pem')}`,
    `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
    `TLSVerifyClient ${options.requireClientCert ? 'demand' : 'never'}`,
    ...(options.allowUnauthenticatedBind ? ['allow bind_anon_dn'] : []),
    'loglevel stats',
    'database mdb',
    'maxsize 33554432',
    `suffix "${baseDN}"`,
    `rootdn "${adminDN}"`,
    `rootpw ${adminPW}`,
    `directory ${join(dir, 'db')}`,
    'index objectClass,uid,member eq',
    // Passwords are only usable for binding; the directory is readable by authenticated users only,
    // so a connector that skipped its service bind would find nobody.
    'access to attrs=userPassword by self write by anonymous auth by * none',
    'access to * by users read by * none',
    '',
  ].join('\n');
}

/** Starts a throwaway OpenLDAP server on loopback with a seeded directory (see `SeedDirectory`). */
export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  // Before anything else: a missing program fails here, with the command that installs it.
  const [SLAPD, SLAPADD, LDAPMODIFY] = [
    requireProgram('slapd'),
    requireProgram('slapadd'),
    requireProgram('ldapmodify'),
  ];
  const baseDN = options.baseDN ?? 'dc=example,dc=org';
  const adminDN = `cn=admin,${baseDN}`;
  const adminPW = 'admin-secret';
  const ca = options.ca ?? (await createTestCA());
  const leaf = await ca.issue(options.serverNames ?? ['localhost', '127.0.0.1']);
  const seed = seedDirectory(baseDN);
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-slapd-'));
  const server = new ServerProcess('slapd');
  let logText = '';

  try {
    const conf = join(dir, 'slapd.conf');
    await mkdir(join(dir, 'db'));
    await writeFile(join(dir, 'ca.pem'), ca.caCert);
    await writeFile(join(dir, 'server.pem'), leaf.cert);
    await writeFile(join(dir, 'server.key'), leaf.key, { mode: 0o600 });
    await writeFile(conf, slapdConf(dir, baseDN, adminDN, adminPW, options));
    await writeFile(join(dir, 'seed.ldif'), seed.ldif + (options.extraLDIF ? `\n${options.extraLDIF}\n` : ''));
    await run(SLAPADD, ['-f', conf, '-l', join(dir, 'seed.ldif')]);

    const [port, ldapsPort] = [await getFreePort(), await getFreePort()];
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsURL = `ldaps://127.0.0.1:${ldapsPort}`;

    const start = async (): Promise<void> => {
      // Foreground (-d) so the test owns the process; stats goes to stderr.
      const proc = server.spawn(SLAPD, ['-d', 'stats', '-f', conf, '-h', `${url}/ ${ldapsURL}/`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (chunk: string) => {
        logText = (logText + chunk).slice(-MAX_LOG);
      });
      const died = server.exited.then(() => {
        throw new Error(`slapd exited during start-up:\n${logText.slice(-4000)}`);
      });
      await Promise.race([
        Promise.all([waitForPort(port, '127.0.0.1', 20_000), waitForPort(ldapsPort, '127.0.0.1', 20_000)]),
        died,
      ]);
      died.catch(() => undefined);
    };

    // SIGTERM (after SIGCONT, for a frozen slapd), SIGKILL after 10 s.
    const pause = (): Promise<void> => server.stop();

    await start();

    const modify = async (ldif: string): Promise<void> => {
      await run(LDAPMODIFY, ['-x', '-H', url, '-D', adminDN, '-w', adminPW], ldif);
    };

    return {
      url,
      ldapsURL,
      port,
      ldapsPort,
      caCert: ca.caCert,
      ca,
      baseDN,
      adminDN,
      adminPW,
      seed,
      dir,
      modify,
      addToGroup(group: string, memberDN: string): Promise<void> {
        return modify(
          `dn: cn=${escapeRdnValue(group)},${seed.groupsDN}\nchangetype: modify\nadd: member\nmember: ${memberDN}\n`,
        );
      },
      removeFromGroup(group: string, memberDN: string): Promise<void> {
        return modify(
          `dn: cn=${escapeRdnValue(group)},${seed.groupsDN}\nchangetype: modify\ndelete: member\nmember: ${memberDN}\n`,
        );
      },
      log: () => logText,
      freeze: () => server.signal('SIGSTOP'),
      thaw: () => server.signal('SIGCONT'),
      pause,
      start,
      async stop(): Promise<void> {
        await pause();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server.kill();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
