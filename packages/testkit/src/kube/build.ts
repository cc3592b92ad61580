/**
 * Builds the upstream kube-apiserver (and, where none is installed, kubectl) from the Go module in
 * `packages/testkit/kube-apiserver` (no binary downloads are possible). `go build` skips the link when the output is up to date,
 * so calling this on every run costs a few seconds once the Go build cache is warm.
 */
import { spawn } from 'node:child_process';
import { access, constants, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILT_KUBECTL, installHint, locate, programSpec } from '../programs.ts';

export const KUBE_APISERVER_MODULE_DIR = fileURLToPath(new URL('../../kube-apiserver/', import.meta.url));
/** Git-ignored build output (`.cache/` is in .gitignore). */
export const KUBE_CACHE_DIR = fileURLToPath(new URL('../../.cache/', import.meta.url));
export const KUBE_APISERVER_BINARY = join(KUBE_CACHE_DIR, 'kube-apiserver');
export const KUBECTL_BINARY = BUILT_KUBECTL;

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `$GATEHOUSE_GO`, then `go` on PATH, then the usual install location (../programs.ts). */
export async function findGo(): Promise<string | undefined> {
  const fromEnv = process.env.GATEHOUSE_GO;
  if (fromEnv) return (await isExecutable(fromEnv)) ? fromEnv : undefined;
  return locate(programSpec('go'));
}

export class KubeToolMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeToolMissingError';
  }
}

export interface BuildResult {
  binary: string;
  /** Wall time of the `go build` call. */
  ms: number;
}

/**
 * Builds (or confirms up to date) the kube-apiserver binary. `$GATEHOUSE_KUBE_APISERVER` points at
 * a prebuilt binary instead. Throws KubeToolMissingError when Go is absent.
 */
export async function buildKubeApiServer(options: { log?: (line: string) => void } = {}): Promise<BuildResult> {
  const prebuilt = process.env.GATEHOUSE_KUBE_APISERVER;
  if (prebuilt) {
    if (!(await isExecutable(prebuilt)))
      throw new KubeToolMissingError(`GATEHOUSE_KUBE_APISERVER=${prebuilt} is not executable`);
    return { binary: prebuilt, ms: 0 };
  }
  const go = await findGo();
  if (!go) {
    // A binary built earlier still serves (e.g. Go removed since); otherwise the suites cannot run.
    if (await isExecutable(KUBE_APISERVER_BINARY)) return { binary: KUBE_APISERVER_BINARY, ms: 0 };
    throw new KubeToolMissingError(
      `Go is not installed (needed to build kube-apiserver from k8s.io/kubernetes): ${installHint(programSpec('go'))}`,
    );
  }
  await mkdir(KUBE_CACHE_DIR, { recursive: true });
  options.log?.(`building kube-apiserver with ${go} (a cold build takes minutes)`);
  return goBuild(go, '.', KUBE_APISERVER_BINARY);
}

/**
 * Builds kubectl from the same k8s.io/kubernetes release (`kube-apiserver/kubectl/`) into `output`
 * (default `.cache/kubectl`, where ../programs.ts looks last): the preflight's way to provide a
 * kubectl where none is installed. Mostly packages the kube-apiserver build already compiled.
 */
export async function buildKubectl(
  options: { output?: string; log?: (line: string) => void } = {},
): Promise<BuildResult> {
  const go = await findGo();
  if (!go)
    throw new KubeToolMissingError(
      `Go is not installed (needed to build kubectl from k8s.io/kubernetes): ${installHint(programSpec('go'))}`,
    );
  const output = options.output ?? KUBECTL_BINARY;
  await mkdir(dirname(output), { recursive: true });
  options.log?.(`building kubectl with ${go} (a cold build takes minutes)`);
  // Built aside, then renamed into place: a concurrent run never finds a half-written kubectl.
  const partial = `${output}.${process.pid}.partial`;
  try {
    const result = await goBuild(go, './kubectl', partial);
    await rename(partial, output);
    return { ...result, binary: output };
  } finally {
    await rm(partial, { force: true });
  }
}

async function goBuild(go: string, pkg: string, output: string): Promise<BuildResult> {
  const started = Date.now();
  const version = await kubernetesVersion();
  // Stamp the version as the upstream release does (kubectl version and discovery read it).
  const [major, minor] = version.replace(/^v/, '').split('.');
  const stamp = [
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    '-X k8s.io/component-base/version.gitTreeState=clean',
  ].join(' ');
  // No VCS stamping (CI checkouts may lack .git or trip git's ownership check). The binary is stripped
  // (-s -w), so the compiler need not write DWARF for its ~1,900 packages either (-dwarf=false).
  const args = [
    'build',
    '-trimpath',
    '-buildvcs=false',
    '-gcflags=all=-dwarf=false',
    `-ldflags=-s -w ${stamp}`,
    '-o',
    output,
    pkg,
  ];
  const { code, output: log } = await run(go, args, KUBE_APISERVER_MODULE_DIR);
  if (code !== 0) throw new Error(`go build of ${pkg} failed (exit ${code}):\n${log.slice(-4000)}`);
  return { binary: output, ms: Date.now() - started };
}

/** The k8s.io/kubernetes version required in go.mod (e.g. v1.33.13). */
export async function kubernetesVersion(): Promise<string> {
  const mod = await readFile(join(KUBE_APISERVER_MODULE_DIR, 'go.mod'), 'utf8');
  const match = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+)/m.exec(mod);
  if (!match?.[1]) throw new Error('k8s.io/kubernetes version not found in kube-apiserver/go.mod');
  return match[1];
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    // GOTOOLCHAIN=local: build with the installed Go, never download another toolchain. CGO_ENABLED=0
    // as upstream builds its release kube-apiserver: pure-Go net and os/user, no C compiler runs.
    const env = { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local', CGO_ENABLED: '0' };
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
