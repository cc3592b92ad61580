/**
 * Starts ONE kube-apiserver + etcd for this project's test run (or uses GATEHOUSE_TEST_KUBECONFIG)
 * and installs deploy/crds. Without Go outside CI the suites skip with one line saying why.
 */
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { kubeGlobalSetup, KUBE_PROVIDE_KEY, connectSharedKube } from '@gatehouse/testkit/kube';

export const CRD_DIR = fileURLToPath(new URL('../../../deploy/crds/', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { provided, teardown } = await kubeGlobalSetup();
  try {
    const kube = await connectSharedKube(provided);
    if (kube) {
      const applied = await kube.kubectl(['apply', '-f', CRD_DIR]);
      if (applied.code !== 0) throw new Error(`kubectl apply -f deploy/crds failed: ${applied.stderr}`);
      const ready = await kube.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', CRD_DIR]);
      if (ready.code !== 0) throw new Error(`CRDs not established: ${ready.stderr}`);
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  project.provide(KUBE_PROVIDE_KEY, provided);
  return teardown;
}
