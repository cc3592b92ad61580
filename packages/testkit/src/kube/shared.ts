/**
 * One API server per test run. A vitest globalSetup calls `kubeGlobalSetup()` and `provide`s the
 * serialisable result; test files call `connectSharedKube(inject(KUBE_PROVIDE_KEY))`. Restarting
 * the API server (outage tests) goes through a small loopback control endpoint, because the
 * processes belong to the globalSetup's process, not the test worker's.
 *
 * Without Go (and outside CI) the suites are skipped with one line saying how to enable them;
 * with `CI=true` a failure to build or start is an error that fails the run.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connectKubeCluster, kubectlPath, runKubectl, startKubeApiServer, type KubeCluster } from './cluster.ts';
import { KubeToolMissingError } from './build.ts';

export const KUBE_PROVIDE_KEY = 'gatehouseKube';

export type ProvidedKube =
  | {
      status: 'ready';
      kubeconfigPath: string;
      server: string;
      token: string;
      namespace: string;
      caPem: string;
      /** Loopback control endpoint for restart/stop/start of the API server; absent for an external cluster. */
      controlUrl?: string;
      controlToken?: string;
    }
  | { status: 'skipped'; reason: string };

export interface KubeGlobalSetup {
  provided: ProvidedKube;
  teardown(): Promise<void>;
}

const SKIP_HINT =
  'Kubernetes suites skipped: install Go >= 1.24 (kube-apiserver is built from k8s.io/kubernetes) plus etcd and kubectl, or set GATEHOUSE_TEST_KUBECONFIG to a kubeconfig of your own cluster.';

export async function kubeGlobalSetup(options: { log?: (line: string) => void } = {}): Promise<KubeGlobalSetup> {
  const log = options.log ?? ((line: string) => console.log(`[kube] ${line}`));
  const external = process.env.GATEHOUSE_TEST_KUBECONFIG;
  let cluster: KubeCluster;
  if (external) {
    cluster = await connectKubeCluster(external);
    return { provided: { status: 'ready', ...pick(cluster) }, teardown: () => cluster.stop() };
  }
  try {
    cluster = await startKubeApiServer({ log });
  } catch (error) {
    if (error instanceof KubeToolMissingError && process.env.CI !== 'true') {
      console.warn(`${SKIP_HINT} (${error.message})`);
      return { provided: { status: 'skipped', reason: error.message }, teardown: async () => {} };
    }
    throw error;
  }
  const controlToken = randomBytes(24).toString('hex');
  let control: Server;
  try {
    control = await startControl(cluster, controlToken);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const address = control.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    provided: { status: 'ready', ...pick(cluster), controlUrl: `http://127.0.0.1:${port}`, controlToken },
    async teardown() {
      await new Promise<void>((resolve) => control.close(() => resolve()));
      await cluster.stop();
    },
  };
}

function pick(cluster: KubeCluster): Pick<KubeCluster, 'kubeconfigPath' | 'server' | 'token' | 'namespace' | 'caPem'> {
  const { kubeconfigPath, server, token, namespace, caPem } = cluster;
  return { kubeconfigPath, server, token, namespace, caPem };
}

function startControl(cluster: KubeCluster, token: string): Promise<Server> {
  const actions: Record<string, () => Promise<void>> = {
    '/restart': () => cluster.restart(),
    '/stop-apiserver': () => cluster.stopApiServer(),
    '/start-apiserver': () => cluster.startApiServer(),
  };
  const expected = Buffer.from(`Bearer ${token}`);
  const server = createServer((req, res) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    const action = actions[req.url ?? ''];
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.writeHead(401).end();
      return;
    }
    if (req.method !== 'POST' || !action) {
      res.writeHead(404).end();
      return;
    }
    action().then(
      () => res.writeHead(204).end(),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** The test-worker side: a KubeCluster over what the globalSetup provided (undefined when skipped). */
export async function connectSharedKube(provided: ProvidedKube | undefined): Promise<KubeCluster | undefined> {
  if (!provided || provided.status !== 'ready') return undefined;
  const kubectl = await kubectlPath();
  const call = async (path: string): Promise<void> => {
    if (!provided.controlUrl) throw new Error('restarting the API server is not supported on an external cluster');
    const res = await fetch(new URL(path, provided.controlUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${provided.controlToken ?? ''}` },
    });
    if (!res.ok) throw new Error(`kube control ${path} failed: ${res.status} ${await res.text()}`);
  };
  return {
    kubeconfigPath: provided.kubeconfigPath,
    server: provided.server,
    token: provided.token,
    namespace: provided.namespace,
    caPem: provided.caPem,
    kubectl: (args, options) => runKubectl(kubectl, provided.kubeconfigPath, args, options),
    restart: () => call('/restart'),
    stopApiServer: () => call('/stop-apiserver'),
    startApiServer: () => call('/start-apiserver'),
    // The globalSetup owns the processes.
    stop: async () => {},
  };
}
