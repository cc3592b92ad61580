/**
 * Installing missing Debian packages the way `.ci/run` always did (apt-get, no recommends,
 * non-interactive), and only when this process may: root, or passwordless sudo, on an apt machine.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { APT_DAEMON_PID_FILES, findOnPath } from '../programs.ts';

export type InstallPrivilege = { kind: 'root' } | { kind: 'sudo' } | { kind: 'none'; reason: string };

/** Whether (and how) this process may run apt-get; never prompts for a password. */
export function installPrivilege(): InstallPrivilege {
  if (process.env.GATEHOUSE_PREFLIGHT_INSTALL === '0') return { kind: 'none', reason: 'GATEHOUSE_PREFLIGHT_INSTALL=0' };
  if (!findOnPath('apt-get')) return { kind: 'none', reason: 'this machine has no apt-get' };
  if (process.getuid?.() === 0) return { kind: 'root' };
  if (!findOnPath('sudo')) return { kind: 'none', reason: 'not root, and sudo is not installed' };
  // -n: fail instead of asking for a password (the test run must not sit at a prompt).
  const probe = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 5_000 });
  return probe.status === 0 ? { kind: 'sudo' } : { kind: 'none', reason: 'not root, and sudo asks for a password' };
}

function run(argv: string[], privilege: InstallPrivilege): Promise<{ code: number; output: string }> {
  const [cmd, ...args] = privilege.kind === 'sudo' ? ['sudo', '-n', ...argv] : argv;
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    child.once('error', (error) => resolve({ code: 127, output: error.message }));
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

export type AptResult = { ok: true } | { ok: false; code: 'apt_failed'; output: string };

/** apt-get update + install, then stops the system daemons those packages started (see APT_DAEMON_PID_FILES). */
export async function aptInstall(packages: string[], privilege: InstallPrivilege, systemRoot = ''): Promise<AptResult> {
  const update = await run(['apt-get', 'update', '-qq'], privilege);
  if (update.code !== 0) return { ok: false, code: 'apt_failed', output: update.output };
  const env = ['env', 'DEBIAN_FRONTEND=noninteractive'];
  const install = await run(
    [...env, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages],
    privilege,
  );
  stopPackageDaemons(packages, privilege, systemRoot);
  return install.code === 0 ? { ok: true } : { ok: false, code: 'apt_failed', output: install.output };
}

/** Debian starts e.g. slapd on port 389 on install; the suites run their own on free ports. */
export function stopPackageDaemons(packages: string[], privilege: InstallPrivilege, systemRoot = ''): void {
  for (const pkg of packages) {
    for (const pattern of APT_DAEMON_PID_FILES[pkg] ?? []) {
      for (const file of expandPidFiles(systemRoot + pattern)) {
        const pid = readPid(file);
        if (pid === undefined) continue;
        if (privilege.kind === 'sudo')
          spawnSync('sudo', ['-n', 'kill', String(pid)], { stdio: 'ignore', timeout: 5_000 });
        else {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      }
    }
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function expandPidFiles(pattern: string): string[] {
  const slash = pattern.lastIndexOf('/');
  const dir = pattern.slice(0, slash);
  const [before, after] = pattern.slice(slash + 1).split('*') as [string, string | undefined];
  if (after === undefined) return existsSync(pattern) ? [pattern] : [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.filter((e) => e.startsWith(before) && e.endsWith(after)).map((e) => `${dir}/${e}`);
}
