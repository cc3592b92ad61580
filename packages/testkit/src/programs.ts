/**
 * `@gatehouse/testkit/programs`: the system programs the suites start for real, where each is looked
 * up and which Debian package brings it. One table for the preflight (./preflight/) and the launchers,
 * so what the preflight checked is exactly what a launcher runs, and a launcher whose program is
 * missing fails at once with the command that installs it instead of waiting on a timeout.
 *
 * `GATEHOUSE_SYSTEM_ROOT` (tests of the preflight itself) makes every lookup relative to that
 * directory, so a test can hide one program from the preflight and the launchers alike.
 */
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ProgramId =
  | 'nginx'
  | 'slapd'
  | 'slapadd'
  | 'ldapmodify'
  | 'ldapsearch'
  | 'chromium'
  | 'etcd'
  | 'kubectl'
  | 'go'
  | 'redis-server'
  | 'initdb'
  | 'postgres'
  | 'curl'
  | 'wrk';

export interface SystemProgram {
  id: ProgramId;
  /** What needs it, for the message. */
  purpose: string;
  /** Absolute paths tried in order; a `*` segment matches any directory entry (highest version first). */
  paths: string[];
  /** Also looked up on PATH under this name (before `paths`). */
  onPath?: string;
  /** The Debian package that brings it; absent when Debian's archive has no usable version. */
  apt?: string;
  /** How to get it by hand when apt cannot. */
  manual?: string;
  /** `test`: `./pnpmw test` needs it; `bench`: only `./pnpmw bench`. */
  usedBy: 'test' | 'bench';
}

/**
 * Where the preflight builds kubectl when the machine has none (git-ignored). The preflight puts this
 * directory on PATH, since tests also run `kubectl` by name (README commands through bash).
 */
export const BUILT_KUBECTL = fileURLToPath(new URL('../.cache/bin/kubectl', import.meta.url));

export const PROGRAMS: readonly SystemProgram[] = [
  {
    id: 'nginx',
    purpose: 'forward-auth and e2e suites (the edge)',
    paths: ['/usr/sbin/nginx'],
    apt: 'nginx',
    usedBy: 'test',
  },
  { id: 'slapd', purpose: 'LDAP connector and e2e suites', paths: ['/usr/sbin/slapd'], apt: 'slapd', usedBy: 'test' },
  { id: 'slapadd', purpose: 'seeding the test directory', paths: ['/usr/sbin/slapadd'], apt: 'slapd', usedBy: 'test' },
  {
    id: 'ldapmodify',
    purpose: 'changing the test directory',
    paths: ['/usr/bin/ldapmodify'],
    apt: 'ldap-utils',
    usedBy: 'test',
  },
  {
    id: 'ldapsearch',
    purpose: 'the slapd launcher tests',
    paths: ['/usr/bin/ldapsearch'],
    apt: 'ldap-utils',
    usedBy: 'test',
  },
  { id: 'chromium', purpose: 'browser journeys (e2e)', paths: ['/usr/bin/chromium'], apt: 'chromium', usedBy: 'test' },
  {
    id: 'etcd',
    purpose: 'the Kubernetes suites',
    paths: ['/usr/bin/etcd'],
    onPath: 'etcd',
    apt: 'etcd-server',
    usedBy: 'test',
  },
  {
    id: 'kubectl',
    purpose: 'the Kubernetes suites',
    paths: ['/usr/bin/kubectl', '/usr/local/bin/kubectl', BUILT_KUBECTL],
    onPath: 'kubectl',
    // Debian 12 only has kubernetes-client 1.20, far outside the supported skew of the v1.33 API server:
    // without a kubectl of its own the preflight builds one from the kube-apiserver's k8s.io/kubernetes.
    manual:
      'kubectl, once Go is installed (the test command does this itself): ./pnpmw exec node packages/testkit/src/kube/build-cli.ts --kubectl',
    usedBy: 'test',
  },
  {
    id: 'go',
    purpose: 'building kube-apiserver for the Kubernetes suites',
    paths: ['/usr/local/go/bin/go'],
    onPath: 'go',
    // Debian 12's golang-go is 1.19; k8s.io/kubernetes v1.33 needs the `go` of kube-apiserver/go.mod.
    manual:
      'Go >= 1.24: curl -fsSL https://go.dev/dl/go1.24.0.linux-amd64.tar.gz | tar -C /usr/local -xz  (or set GATEHOUSE_KUBE_APISERVER to a built kube-apiserver)',
    usedBy: 'test',
  },
  {
    id: 'redis-server',
    purpose: 'the Redis suites',
    paths: ['/usr/bin/redis-server'],
    onPath: 'redis-server',
    apt: 'redis-server',
    usedBy: 'test',
  },
  {
    id: 'initdb',
    purpose: 'the PostgreSQL suites',
    paths: ['/usr/lib/postgresql/*/bin/initdb'],
    apt: 'postgresql',
    usedBy: 'test',
  },
  {
    id: 'postgres',
    purpose: 'the PostgreSQL suites',
    paths: ['/usr/lib/postgresql/*/bin/postgres'],
    apt: 'postgresql',
    usedBy: 'test',
  },
  {
    id: 'curl',
    purpose: 'the demo test (it runs the curl line ./pnpmw demo prints)',
    paths: ['/usr/bin/curl'],
    onPath: 'curl',
    apt: 'curl',
    usedBy: 'test',
  },
  { id: 'wrk', purpose: 'the HTTP benchmarks', paths: ['/usr/bin/wrk'], apt: 'wrk', usedBy: 'bench' },
];

/**
 * pid files of the system daemons a package starts when apt installs it (Debian runs its init script);
 * the suites start their own servers on free ports, so the preflight stops these right after installing.
 */
export const APT_DAEMON_PID_FILES: Readonly<Record<string, string[]>> = {
  slapd: ['/run/slapd/slapd.pid'],
  'redis-server': ['/run/redis/redis-server.pid'],
  postgresql: ['/run/postgresql/*.pid'],
};

export function programSpec(id: ProgramId): SystemProgram {
  const spec = PROGRAMS.find((p) => p.id === id);
  if (!spec) throw new Error(`unknown program ${id}`);
  return spec;
}

export interface LookupOptions {
  /** Directory every lookup is made under (default `$GATEHOUSE_SYSTEM_ROOT`, else `/`). */
  root?: string;
  /** PATH to search (default `$PATH`). */
  pathEnv?: string;
}

function systemRoot(options: LookupOptions): string {
  return options.root ?? process.env.GATEHOUSE_SYSTEM_ROOT ?? '';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Expands `*` segments against the directory (newest-looking entry first: `15` before `13`). */
function expand(path: string): string[] {
  const star = path.indexOf('/*/');
  if (star < 0) return [path];
  const dir = path.slice(0, star);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  entries.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return entries.flatMap((entry) => expand(`${dir}/${entry}${path.slice(star + 2)}`));
}

/** `name` on PATH (no lookup root: for the tools the preflight itself runs, apt-get and sudo). */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir.startsWith('/') && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Where a program is, or undefined. Synchronous and allocation-light: the preflight runs it on every test run. */
export function locate(spec: SystemProgram, options: LookupOptions = {}): string | undefined {
  const root = systemRoot(options);
  const candidates: string[] = [];
  if (spec.onPath) {
    for (const dir of (options.pathEnv ?? process.env.PATH ?? '').split(delimiter)) {
      if (dir.startsWith('/')) candidates.push(join(dir, spec.onPath));
    }
  }
  candidates.push(...spec.paths);
  for (const candidate of candidates) {
    for (const path of expand(root + candidate)) if (isExecutable(path)) return path;
  }
  return undefined;
}

/** The command a person runs to install these Debian packages (with sudo unless root). */
export function aptInstallCommand(packages: string[], asRoot = process.getuid?.() === 0): string {
  const sudo = asRoot ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/** How to get one program: its apt command, or the manual step. */
export function installHint(spec: SystemProgram): string {
  return spec.apt ? aptInstallCommand([spec.apt]) : (spec.manual ?? `install ${spec.id}`);
}

export class MissingProgramError extends Error {
  readonly code = 'missing_program';
  readonly program: ProgramId;
  /** The install command (or manual step). */
  readonly hint: string;
  constructor(program: ProgramId, hint: string) {
    super(`${program} is not installed; install it with: ${hint}`);
    this.name = 'MissingProgramError';
    this.program = program;
    this.hint = hint;
  }
}

/** The path a launcher runs; throws MissingProgramError (with the install command) at once when absent. */
export function requireProgram(id: ProgramId, options: LookupOptions = {}): string {
  const spec = programSpec(id);
  const found = locate(spec, options);
  if (!found) throw new MissingProgramError(id, installHint(spec));
  return found;
}
