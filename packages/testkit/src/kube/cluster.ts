/**
 * A real Kubernetes API server for tests: Debian's etcd plus the upstream kube-apiserver built
 * from Go modules (see ./build.ts), on free loopback ports, with a throw-away CA, token auth,
 * RBAC and a fresh namespace. `stop()` leaves nothing running and removes the temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort, waitForPort } from '../ports.ts';
import { installHint, locate, programSpec } from '../programs.ts';
import { buildKubeApiServer, KubeToolMissingError } from './build.ts';

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KubeCluster {
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of a `system:masters` user. */
  token: string;
  /** A namespace created for this run. */
  namespace: string;
  /** PEM of the CA that signed the serving certificate. */
  caPem: string;
  /** Runs kubectl with `--kubeconfig` (and stdin when given). Never throws for a non-zero exit. */
  kubectl(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Restarts the API server process only (same etcd, same port). Unsupported on an external cluster. */
  restart(): Promise<void>;
  /** Stops the API server process only; `start()` brings it back (outage tests). */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartKubeOptions {
  /** Namespace to create (default `gatehouse-test`). */
  namespace?: string;
  /** Progress lines (build, start). */
  log?: (line: string) => void;
  /** Readiness deadline per process start (default 120 s: the machine may be busy). */
  startTimeoutMs?: number;
}

const children = new Set<ChildProcess>();
let reaperInstalled = false;

/** A test runner that exits or is interrupted must not leave etcd/kube-apiserver behind. */
function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      // Nobody else handles it: keep the default behaviour (terminate) by re-raising.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

export async function kubectlPath(): Promise<string> {
  const found = locate(programSpec('kubectl'));
  if (!found) throw new KubeToolMissingError(`kubectl is not installed: ${installHint(programSpec('kubectl'))}`);
  return found;
}

export function runKubectl(
  kubectl: string,
  kubeconfigPath: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, ['--kubeconfig', kubeconfigPath, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) }));
    child.stdin.end(options.input ?? '');
  });
}

function spawnLogged(cmd: string, args: string[], logFile: string): ChildProcess {
  const out = createWriteStream(logFile, { flags: 'a' });
  installReaper();
  // The Go side exits when this process is gone, even after a SIGKILL that skips our reaper.
  const env = { ...process.env, GATEHOUSE_PARENT_PID: String(process.pid) };
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function tail(file: string, chars = 3000): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).slice(-chars);
  } catch {
    return '';
  }
}

/** GET path on the API server; resolves with the status (0 when unreachable). */
function httpsStatus(server: string, path: string, token: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      new URL(path, server),
      { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

async function waitReady(
  server: string,
  token: string,
  ca: string,
  child: ChildProcess,
  timeoutMs: number,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`kube-apiserver exited (${child.exitCode ?? child.signalCode}):\n${await tail(logFile)}`);
    }
    if ((await httpsStatus(server, '/readyz', token, ca)) === 200) return;
    if (Date.now() > deadline)
      throw new Error(`kube-apiserver not ready after ${timeoutMs} ms:\n${await tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Builds (if needed) and starts etcd + kube-apiserver. A failed start is retried twice on new
 * ports (another process may take a port between picking it and binding it).
 */
export async function startKubeApiServer(options: StartKubeOptions = {}): Promise<KubeCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (error instanceof KubeToolMissingError || attempt >= 3) throw error;
      options.log?.(`start attempt ${attempt} failed, retrying: ${(error as Error).message.split('\n')[0]}`);
    }
  }
}

async function startOnce(options: StartKubeOptions): Promise<KubeCluster> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const namespace = options.namespace ?? 'gatehouse-test';
  const etcdBin = locate(programSpec('etcd'));
  if (!etcdBin) throw new KubeToolMissingError(`etcd is not installed: ${installHint(programSpec('etcd'))}`);
  const kubectl = await kubectlPath();
  const { binary } = await buildKubeApiServer({ log });

  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-kube-'));
  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  const cleanup = async (): Promise<void> => {
    await stopChild(apiserver);
    await stopChild(etcd);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const certDir = join(dir, 'pki');
    const gen = await new Promise<number>((resolve, reject) => {
      const child = spawn(binary, ['gatehouse-certs', certDir], { stdio: 'inherit' });
      child.once('error', reject);
      child.once('exit', (code) => resolve(code ?? 1));
    });
    if (gen !== 0) throw new Error('kube-apiserver gatehouse-certs failed');
    const caPem = await readFile(join(certDir, 'ca.crt'), 'utf8');

    const [etcdPort, peerPort, apiPort] = [await getFreePort(), await getFreePort(), await getFreePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    // etcd runs under the Go binary's `gatehouse-run`, which stops it if we disappear.
    etcd = spawnLogged(
      binary,
      [
        'gatehouse-run',
        '--',
        etcdBin,
        '--name=default',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      join(dir, 'etcd.log'),
    );
    const etcdExited = new Promise<never>((_, reject) => {
      etcd!.once('exit', (code) => {
        void tail(join(dir, 'etcd.log')).then((log) => reject(new Error(`etcd exited (${code}):\n${log}`)));
      });
    });
    etcdExited.catch(() => {}); // only awaited through the race below
    await Promise.race([waitForPort(etcdPort, '127.0.0.1', timeoutMs), etcdExited]);

    const token = randomBytes(24).toString('hex');
    await writeFile(join(dir, 'tokens.csv'), `${token},gatehouse-admin,gatehouse-admin,"system:masters"\n`, {
      mode: 0o600,
    });
    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--tls-cert-file=${join(certDir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(certDir, 'apiserver.key')}`,
      `--client-ca-file=${join(certDir, 'ca.crt')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${join(certDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(certDir, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ];
    const apiLog = join(dir, 'kube-apiserver.log');
    const startApi = async (): Promise<void> => {
      apiserver = spawnLogged(binary, apiArgs, apiLog);
      await waitReady(server, token, caPem, apiserver, timeoutMs, apiLog);
    };
    log(`starting kube-apiserver on ${server}`);
    await startApi();

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigJSON(server, caPem, token, namespace), { mode: 0o600 });
    const kubectlRun: KubeCluster['kubectl'] = (args, opts) => runKubectl(kubectl, kubeconfigPath, args, opts);
    const created = await kubectlRun(['create', 'namespace', namespace]);
    if (created.code !== 0) throw new Error(`kubectl create namespace failed: ${created.stderr}`);

    let stopped = false;
    return {
      kubeconfigPath,
      server,
      token,
      namespace,
      caPem,
      kubectl: kubectlRun,
      async stopApiServer() {
        await stopChild(apiserver);
      },
      async startApiServer() {
        if (apiserver && apiserver.exitCode === null && apiserver.signalCode === null) return;
        await startApi();
      },
      async restart() {
        await stopChild(apiserver);
        await startApi();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export function kubeconfigJSON(server: string, caPem: string, token: string, namespace: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'gatehouse-test',
          cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
        },
      ],
      users: [{ name: 'gatehouse-admin', user: { token } }],
      contexts: [
        { name: 'gatehouse-test', context: { cluster: 'gatehouse-test', user: 'gatehouse-admin', namespace } },
      ],
      'current-context': 'gatehouse-test',
    },
    null,
    2,
  );
}

/**
 * A cluster of the user's own (`GATEHOUSE_TEST_KUBECONFIG`): a fresh namespace is created and
 * deleted on stop. restart()/stopApiServer() are unsupported and throw.
 */
export async function connectKubeCluster(
  kubeconfigPath: string,
  options: { namespace?: string } = {},
): Promise<KubeCluster> {
  const kubectl = await kubectlPath();
  const namespace = options.namespace ?? `gatehouse-test-${randomBytes(4).toString('hex')}`;
  const kubectlRun: KubeCluster['kubectl'] = (args, opts) => runKubectl(kubectl, kubeconfigPath, args, opts);
  const created = await kubectlRun(['create', 'namespace', namespace]);
  if (created.code !== 0) throw new Error(`kubectl create namespace ${namespace} failed: ${created.stderr}`);
  const view = await kubectlRun(['config', 'view', '--minify', '--raw', '-o', 'json']);
  const config = JSON.parse(view.stdout) as {
    clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string } }>;
    users?: Array<{ user?: { token?: string } }>;
  };
  const cluster = config.clusters?.[0]?.cluster;
  const unsupported = async (): Promise<void> => {
    throw new Error('restarting the API server is not supported on an external cluster');
  };
  return {
    kubeconfigPath,
    server: cluster?.server ?? '',
    token: config.users?.[0]?.user?.token ?? '',
    namespace,
    caPem: cluster?.['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString()
      : '',
    kubectl: kubectlRun,
    restart: unsupported,
    stopApiServer: unsupported,
    startApiServer: unsupported,
    async stop() {
      await kubectlRun(['delete', 'namespace', namespace, '--wait=false']);
    },
  };
}
