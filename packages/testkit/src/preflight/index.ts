/**
 * `@gatehouse/testkit/preflight`: before any suite starts, every system program the suites run
 * (../programs.ts) is there, or is installed now (root or passwordless sudo on an apt machine), or
 * the run stops at once with one message holding the exact command to run. The root vitest.config.ts
 * runs it on every `vitest` invocation (`./pnpmw test`, `./pnpmw e2e`, one project, one file) and
 * `.ci/run` through ./cli.ts: one code path installs for both.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { buildKubectl, KUBE_APISERVER_MODULE_DIR } from '../kube/build.ts';
import {
  aptInstallCommand,
  BUILT_KUBECTL,
  locate,
  PROGRAMS,
  type LookupOptions,
  type ProgramId,
  type SystemProgram,
} from '../programs.ts';
import { aptInstall, installPrivilege, type InstallPrivilege } from './install.ts';

export interface MissingProgram {
  id: ProgramId;
  purpose: string;
  /** Why it does not count as present ("not found", "go1.19 is older than go1.24.0"). */
  problem: string;
  apt?: string;
  manual?: string;
}

export interface PreflightOptions {
  /** Which programs: those `./pnpmw test` needs (default), or those `./pnpmw bench` adds too. */
  usedBy?: Array<SystemProgram['usedBy']>;
  /** Default: allowed unless GATEHOUSE_PREFLIGHT_INSTALL=0 (installing still needs root or sudo). */
  install?: boolean;
  lookup?: LookupOptions;
  /** Progress lines while installing (default: stderr). */
  log?: (line: string) => void;
}

export type PreflightResult =
  | { status: 'ok'; installed: string[]; ms: number }
  | { status: 'missing'; code: 'missing_programs'; missing: MissingProgram[]; message: string; ms: number };

/** The `go` line of kube-apiserver/go.mod: the oldest Go that builds it with GOTOOLCHAIN=local. */
function requiredGo(): string {
  const mod = readFileSync(join(KUBE_APISERVER_MODULE_DIR, 'go.mod'), 'utf8');
  return /^go\s+(\d+\.\d+(?:\.\d+)?)\s*$/m.exec(mod)?.[1] ?? '1.24.0';
}

function versionAtLeast(have: string, want: string): boolean {
  const a = have.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** Go's own version (a ~20 ms spawn, only when Go is needed). */
function goProblem(go: string): string | undefined {
  const out = spawnSync(go, ['env', 'GOVERSION'], {
    cwd: '/',
    encoding: 'utf8',
    timeout: 5_000,
    env: { ...process.env, GOTOOLCHAIN: 'local' },
  });
  const have = /^go(\d+\.\d+(?:\.\d+)?)/.exec(out.stdout ?? '')?.[1];
  const want = requiredGo();
  if (!have) return `${go} does not run (${(out.stderr ?? out.error?.message ?? '').trim().slice(0, 200)})`;
  return versionAtLeast(have, want)
    ? undefined
    : `${go} is go${have}, older than the go${want} kube-apiserver/go.mod needs`;
}

/** The programs that are not usable here, without installing anything. */
export function checkPrograms(options: Pick<PreflightOptions, 'usedBy' | 'lookup'> = {}): MissingProgram[] {
  const usedBy = options.usedBy ?? ['test'];
  const missing: MissingProgram[] = [];
  for (const spec of PROGRAMS) {
    if (!usedBy.includes(spec.usedBy)) continue;
    let found: string | undefined;
    let problem = 'not found';
    if (spec.id === 'go') {
      // A prebuilt kube-apiserver needs no Go (see kube/build.ts); GATEHOUSE_GO names the Go to use.
      if (process.env.GATEHOUSE_KUBE_APISERVER) continue;
      found = process.env.GATEHOUSE_GO ?? locate(spec, options.lookup);
      const bad = found ? goProblem(found) : undefined;
      if (bad) [found, problem] = [undefined, bad];
    } else {
      found = locate(spec, options.lookup);
    }
    if (!found) missing.push({ id: spec.id, purpose: spec.purpose, problem, apt: spec.apt, manual: spec.manual });
  }
  return missing;
}

/** The one message a person reads when the run stops: what is missing and the exact commands. */
export function missingMessage(missing: MissingProgram[], note: string): string {
  const aptPackages = [...new Set(missing.flatMap((m) => (m.apt ? [m.apt] : [])))];
  const manual = [...new Set(missing.flatMap((m) => (!m.apt && m.manual ? [m.manual] : [])))];
  const lines = ['gatehouse preflight: the test suites need programs this machine does not have:'];
  for (const m of missing)
    lines.push(`  - ${m.id} (${m.purpose}): ${m.problem}${m.apt ? `; Debian package ${m.apt}` : ''}`);
  lines.push('', 'Install them, then run the tests again:');
  if (aptPackages.length > 0) lines.push(`  ${aptInstallCommand(aptPackages)}`);
  for (const step of manual) lines.push(`  ${step}`);
  if (aptPackages.length > 0 && note) lines.push('', `(${note})`);
  return lines.join('\n');
}

/** A kubectl this preflight built is run by name too (README commands): its directory goes on PATH. */
function putBuiltKubectlOnPath(root: string): void {
  const kubectl = locate(
    PROGRAMS.find((p) => p.id === 'kubectl')!,
    { root },
  );
  if (kubectl !== root + BUILT_KUBECTL) return;
  const dir = dirname(kubectl);
  const path = process.env.PATH ?? '';
  if (!path.split(delimiter).includes(dir)) process.env.PATH = `${dir}${delimiter}${path}`;
}

/**
 * Checks, installs what apt can when allowed (and builds kubectl with Go when none is installed), checks
 * again. Never throws for a missing program. Puts a kubectl it built on this process's PATH.
 */
export async function preflight(options: PreflightOptions = {}): Promise<PreflightResult> {
  const root = options.lookup?.root ?? process.env.GATEHOUSE_SYSTEM_ROOT ?? '';
  const result = await check(options, root);
  putBuiltKubectlOnPath(root);
  return result;
}

async function check(options: PreflightOptions, root: string): Promise<PreflightResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let missing = checkPrograms(options);
  if (missing.length === 0) return { status: 'ok', installed: [], ms: performance.now() - started };

  const packages = [...new Set(missing.flatMap((m) => (m.apt ? [m.apt] : [])))];
  const privilege: InstallPrivilege =
    options.install === false ? { kind: 'none', reason: 'installing was turned off' } : installPrivilege();
  let installed: string[] = [];
  let note =
    privilege.kind === 'none'
      ? `Not installed automatically: ${privilege.reason}. As root or with passwordless sudo the test command installs them itself.`
      : '';
  if (packages.length > 0 && privilege.kind !== 'none') {
    log(
      `gatehouse preflight: installing ${packages.join(' ')} (apt-get${privilege.kind === 'sudo' ? ' via sudo' : ''}; once per machine)`,
    );
    const result = await aptInstall(packages, privilege, root);
    if (result.ok) installed = packages;
    else {
      note = 'apt-get failed: its output is above.';
      log(`gatehouse preflight: apt-get failed:\n${result.output.trim()}`);
    }
    missing = checkPrograms(options);
    if (result.ok && missing.some((m) => m.apt)) {
      note = `apt-get installed ${packages.join(' ')}, yet the programs above are still not where the suites look.`;
    }
  }
  // kubectl: no usable Debian package, so it is built from the kube-apiserver's module (needs Go, not root).
  const allowed = options.install !== false && process.env.GATEHOUSE_PREFLIGHT_INSTALL !== '0';
  if (allowed && missing.some((m) => m.id === 'kubectl') && !missing.some((m) => m.id === 'go')) {
    log(
      'gatehouse preflight: building kubectl from k8s.io/kubernetes with Go (no kubectl installed; once per machine)',
    );
    try {
      await buildKubectl({ output: root + BUILT_KUBECTL });
      installed.push('kubectl (built)');
    } catch (error) {
      log(`gatehouse preflight: building kubectl failed: ${(error as Error).message}`);
    }
    missing = checkPrograms(options);
  }
  const ms = performance.now() - started;
  if (missing.length === 0) return { status: 'ok', installed, ms };
  return { status: 'missing', code: 'missing_programs', missing, message: missingMessage(missing, note), ms };
}

/** For the vitest config and the CLI: returns when everything is there; otherwise prints the message and exits 1. */
export async function preflightOrExit(options: PreflightOptions = {}): Promise<void> {
  if (process.env.GATEHOUSE_PREFLIGHT === 'skip') return;
  const result = await preflight(options);
  if (result.status === 'ok') return;
  process.stderr.write(`\n${result.message}\n\n`);
  process.exit(1);
}
