/** The shared Store conformance suite, unchanged, against a real kube-apiserver. */
import { afterAll, describe } from 'vitest';
import { runStoreConformance } from '@gatehouse/storage/conformance';
import { freshNamespace, kubeAvailable, openTestStore, testKube } from './kube-env.ts';

let namespace: Promise<string> | undefined;

describe.skipIf(!kubeAvailable)('kubernetes store', () => {
  afterAll(async () => {
    if (namespace) await (await testKube()).kubectl(['delete', 'namespace', await namespace, '--wait=false']);
  });

  runStoreConformance('kubernetes', async () => {
    const kube = await testKube();
    namespace ??= freshNamespace(kube, 'conformance');
    return openTestStore(kube, await namespace);
  });
});
