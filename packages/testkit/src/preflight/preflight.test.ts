// The preflight for real: the CLI and `vitest run` as child processes, on a lookup root that holds
// every program this machine has (symlinks) except the ones a test hides, with a fake apt-get first on
// PATH that records what it was asked.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx } from '../nginx/index.ts';
import { BUILT_KUBECTL, locate, MissingProgramError, PROGRAMS, type ProgramId } from '../programs.ts';
import { startRedis } from '../redis/index.ts';
import { startSlapd } from '../slapd/index.ts';
import { checkPrograms } from './index.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const VITEST = join(REPO, 'node_modules/vitest/vitest.mjs');
const INSTALL_CMD =
  'apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd';

let work: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `cmd` (default: this Node) with `argv`. */
function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  options: { cmd?: string; uid?: number; timeoutMs?: number } = {},
): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(options.cmd ?? process.execPath, argv, {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** A lookup root with a symlink to every program found here, except `hidden`. */
async function systemRoot(name: string, hidden: ProgramId[]): Promise<string> {
  const root = join(work, name);
  for (const spec of PROGRAMS) {
    if (hidden.includes(spec.id)) continue;
    const real = locate(spec, { root: '' });
    if (!real) throw new Error(`this machine lacks ${spec.id}; the tests below need it present to hide it`);
    await mkdir(join(root, dirname(real)), { recursive: true });
    await symlink(real, join(root, real)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  return root;
}

/** A directory for PATH whose apt-get logs its arguments to `<dir>/apt.log` and runs `onInstall`. */
async function fakeApt(name: string, onInstall = ''): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const script = `#!/bin/sh\necho "$*" >> "${dir}/apt.log"\ncase "$1" in install) ${onInstall} ;; esac\nexit 0\n`;
  await writeFile(join(dir, 'apt-get'), script, { mode: 0o755 });
  await chmod(dir, 0o777); // the non-root run must be able to log, were it (wrongly) to call apt-get
  return dir;
}

const aptLog = (dir: string): Promise<string> => readFile(join(dir, 'apt.log'), 'utf8').catch(() => '');

function env(extra: NodeJS.ProcessEnv, pathFirst?: string): NodeJS.ProcessEnv {
  const {
    GATEHOUSE_SYSTEM_ROOT: _r,
    GATEHOUSE_PREFLIGHT_INSTALL: _i,
    GATEHOUSE_PREFLIGHT: _p,
    GATEHOUSE_KUBE_APISERVER: _k,
    ...rest
  } = process.env;
  return { ...rest, ...(pathFirst ? { PATH: `${pathFirst}:${process.env.PATH ?? ''}` } : {}), ...extra };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gatehouse-preflight-'));
  await chmod(work, 0o755); // readable by the non-root run
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('preflight', () => {
  it('finds every program on this machine, in well under a second', () => {
    const started = performance.now();
    const missing = checkPrograms({ usedBy: ['test', 'bench'] });
    const ms = performance.now() - started;
    expect(missing).toEqual([]);
    expect(ms).toBeLessThan(1_000);
  });

  it('the CLI passes at once when everything is present, without calling apt-get', async () => {
    const apt = await fakeApt('apt-present');
    const result = await run([CLI], env({}, apt));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/every program the suites run is installed \(\d+ ms\)/);
    expect(await aptLog(apt)).toBe('');
  });

  it('stops within seconds with the exact command, and tries no apt-get, when installing is turned off', async () => {
    const root = await systemRoot('root-no-slapadd', ['slapadd']);
    const apt = await fakeApt('apt-off');
    const result = await run([CLI], env({ GATEHOUSE_SYSTEM_ROOT: root, GATEHOUSE_PREFLIGHT_INSTALL: '0' }, apt));
    expect(result.code).toBe(1);
    expect(result.ms).toBeLessThan(5_000);
    expect(result.stderr).toContain('- slapadd (seeding the test directory): not found; Debian package slapd');
    expect(result.stderr).toContain(`\n  ${INSTALL_CMD}\n`);
    expect(result.stderr).toContain('Not installed automatically: GATEHOUSE_PREFLIGHT_INSTALL=0');
    expect(await aptLog(apt)).toBe('');
  });

  it.runIf(process.getuid?.() === 0)(
    'as a user who is not root and has no sudo: the sudo command, no apt-get',
    async () => {
      const root = await systemRoot('root-no-slapadd-nginx', ['slapadd', 'nginx']);
      const apt = await fakeApt('apt-nobody');
      const result = await run([CLI], env({ GATEHOUSE_SYSTEM_ROOT: root, HOME: work }, apt), { uid: 65534 });
      expect(result.code).toBe(1);
      expect(result.ms).toBeLessThan(5_000);
      expect(result.stderr).toContain(
        '\n  sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx slapd\n',
      );
      expect(result.stderr).toMatch(
        /Not installed automatically: not root, and sudo (is not installed|asks for a password)/,
      );
      expect(await aptLog(apt)).toBe('');
    },
  );

  it.runIf(process.getuid?.() === 0)(
    'as root installs with apt-get, stops the daemon the package started, and passes',
    async () => {
      const root = await systemRoot('root-install', ['slapadd']);
      const slapadd = locate(
        PROGRAMS.find((p) => p.id === 'slapadd')!,
        { root: '' },
      )!;
      // What Debian's slapd package does: the program appears, and its init script starts a daemon.
      const apt = await fakeApt(
        'apt-install',
        `ln -s ${slapadd} ${root}${slapadd}; mkdir -p ${root}/run/slapd; sleep 120 >/dev/null 2>&1 </dev/null & echo $! > ${root}/run/slapd/slapd.pid`,
      );
      const result = await run([CLI], env({ GATEHOUSE_SYSTEM_ROOT: root }, apt));
      const daemon = Number(await readFile(join(root, 'run/slapd/slapd.pid'), 'utf8'));
      const alive = (): boolean => {
        try {
          process.kill(daemon, 0);
          return true;
        } catch {
          return false;
        }
      };
      try {
        expect(result.stderr).toContain('gatehouse preflight: installing slapd (apt-get; once per machine)');
        expect(result.code).toBe(0);
        expect(result.stdout).toContain('installed slapd');
        expect((await aptLog(apt)).split('\n')).toEqual([
          'update -qq',
          'install -y -qq --no-install-recommends slapd',
          '',
        ]);
        for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
        expect(alive()).toBe(false);
      } finally {
        if (alive()) process.kill(daemon, 'SIGKILL');
      }
    },
  );

  it('with no kubectl installed and installing off: the exact command that builds one', async () => {
    const root = await systemRoot('root-no-kubectl', ['kubectl']);
    const result = await run([CLI], env({ GATEHOUSE_SYSTEM_ROOT: root, GATEHOUSE_PREFLIGHT_INSTALL: '0' }));
    expect(result.code).toBe(1);
    expect(result.ms).toBeLessThan(5_000);
    expect(result.stderr).toContain('- kubectl (the Kubernetes suites): not found\n');
    expect(result.stderr).toContain(
      '\n  kubectl, once Go is installed (the test command does this itself): ./pnpmw exec node packages/testkit/src/kube/build-cli.ts --kubectl\n',
    );
    expect(result.stderr).not.toContain('building kubectl');
  });

  // Go's build cache makes this a second or two after the first time (the kube-apiserver build compiles
  // most of kubectl's packages; Go caches the link too).
  it(
    'with no kubectl installed: builds kubectl v1.33 from the kube-apiserver module with Go, and passes',
    { timeout: 900_000 },
    async () => {
      const root = await systemRoot('root-build-kubectl', ['kubectl']);
      const result = await run([CLI], env({ GATEHOUSE_SYSTEM_ROOT: root }), { timeoutMs: 900_000 });
      expect(result.stderr).toContain('gatehouse preflight: building kubectl from k8s.io/kubernetes with Go');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('installed kubectl (built)');
      const version = await run(['version', '--client', '-o', 'json'], env({}), { cmd: root + BUILT_KUBECTL });
      expect(JSON.parse(version.stdout)).toMatchObject({
        clientVersion: { gitVersion: 'v1.33.13', major: '1', minor: '33' },
      });
    },
  );

  it(
    'four runs at once on a machine without kubectl: all pass, and the kubectl they leave works',
    { timeout: 900_000 },
    async () => {
      const root = await systemRoot('root-build-kubectl-4', ['kubectl']);
      const results = await Promise.all(
        [1, 2, 3, 4].map(() => run([CLI], env({ GATEHOUSE_SYSTEM_ROOT: root }), { timeoutMs: 900_000 })),
      );
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      const version = await run(['version', '--client', '-o', 'json'], env({}), { cmd: root + BUILT_KUBECTL });
      expect(JSON.parse(version.stdout)).toMatchObject({ clientVersion: { gitVersion: 'v1.33.13' } });
    },
  );

  it('an installed Go older than kube-apiserver/go.mod asks for a newer one', async () => {
    const fakeGo = join(work, 'go-1.19');
    await writeFile(fakeGo, '#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.19.8\n', { mode: 0o755 });
    const result = await run([CLI], env({ GATEHOUSE_GO: fakeGo, GATEHOUSE_PREFLIGHT_INSTALL: '0' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `- go (building kube-apiserver for the Kubernetes suites): ${fakeGo} is go1.19.8, older than the go1.24.0 kube-apiserver/go.mod needs`,
    );
    expect(result.stderr).toContain('\n  Go >= 1.24: curl -fsSL');
  });

  it('`vitest run` stops before any project starts, within 10 s, with the command', async () => {
    const root = await systemRoot('root-vitest', ['slapadd']);
    const apt = await fakeApt('apt-vitest');
    // tls.test.ts would pass in a second: the run must stop before it is even collected.
    const result = await run(
      [VITEST, 'run', 'packages/testkit/src/tls.test.ts'],
      env({ GATEHOUSE_SYSTEM_ROOT: root, GATEHOUSE_PREFLIGHT_INSTALL: '0' }, apt),
      {
        timeoutMs: 30_000,
      },
    );
    expect(result.code).toBe(1);
    expect(result.ms).toBeLessThan(10_000);
    expect(result.stderr).toContain(INSTALL_CMD);
    expect(result.stdout).not.toMatch(/Test Files/);
    expect(await aptLog(apt)).toBe('');
  });
});

describe('launchers fail at once when their program is missing', () => {
  let saved: string | undefined;
  beforeAll(async () => {
    saved = process.env.GATEHOUSE_SYSTEM_ROOT;
    process.env.GATEHOUSE_SYSTEM_ROOT = await systemRoot('root-no-launchers', ['nginx', 'slapd', 'redis-server']);
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.GATEHOUSE_SYSTEM_ROOT;
    else process.env.GATEHOUSE_SYSTEM_ROOT = saved;
  });

  it('startNginx', async () => {
    const started = performance.now();
    // (Were it to start anyway, stop it: nothing outlives the test.)
    const error = await startNginx({ confTemplate: 'events {}\nhttp {}\n', vars: {} }).then(
      (n) => n.stop(),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingProgramError);
    expect((error as MissingProgramError).message).toContain(
      'nginx is not installed; install it with: apt-get update && env',
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('startSlapd', async () => {
    const started = performance.now();
    const error = await startSlapd().then(
      (d) => d.stop(),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingProgramError);
    expect((error as MissingProgramError).message).toContain(
      'install it with: apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install',
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('startRedis', async () => {
    const started = performance.now();
    const error = await startRedis().then(
      (r) => r.stop(),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingProgramError);
    expect((error as MissingProgramError).message).toContain('install -y --no-install-recommends redis-server');
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
