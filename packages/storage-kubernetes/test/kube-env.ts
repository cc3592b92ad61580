/** Test-side access to the shared API server started by kube-global-setup.ts. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { pino } from 'pino';
import { connectSharedKube, KUBE_PROVIDE_KEY, type KubeCluster, type ProvidedKube } from '@gatehouse/testkit/kube';
import { openKubernetesStore, type KubernetesStore, type KubernetesStoreOptions } from '../src/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    [KUBE_PROVIDE_KEY]: ProvidedKube;
  }
}

const provided = inject(KUBE_PROVIDE_KEY);
/** False when the suites are skipped (no Go, not CI): the global setup printed why. */
export const kubeAvailable = provided?.status === 'ready';
/** Restart/stop of the API server is possible (not on a GATEHOUSE_TEST_KUBECONFIG cluster). */
export const kubeRestartable = provided?.status === 'ready' && provided.controlUrl !== undefined;

export async function testKube(): Promise<KubeCluster> {
  const kube = await connectSharedKube(provided);
  if (!kube) throw new Error('no Kubernetes API server for the tests');
  return kube;
}

/** A new namespace, so each file's data (and gc counts) stay its own. */
export async function freshNamespace(kube: KubeCluster, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const res = await kube.kubectl(['create', 'namespace', name]);
  if (res.code !== 0) throw new Error(`kubectl create namespace ${name}: ${res.stderr}`);
  return name;
}

export const quietLogger = pino({ level: 'silent' });

export function openTestStore(
  kube: KubeCluster,
  namespace: string,
  options: KubernetesStoreOptions = {},
): Promise<KubernetesStore> {
  return openKubernetesStore(
    { inCluster: false, kubeConfigFile: kube.kubeconfigPath, namespace },
    { logger: quietLogger, ...options },
  );
}
