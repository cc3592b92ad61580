// The reference flow on the Kubernetes store (CRDs on a real kube-apiserver + etcd), as the seed deploys it:
// while the browser holds the issuer's redirect to /oauth2/callback, `kubectl get authcodes` sees the code.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { nameFor, openKubernetesStore, type KubernetesStore } from '@gatehouse/storage-kubernetes';
import { findGo, startKubeApiServer, type KubeCluster } from '@gatehouse/testkit/kube';
import { describe, it } from 'vitest';
import { defineFlowSuite } from '../src/flow-suite.ts';

const CRD_DIR = fileURLToPath(new URL('../../deploy/crds/', import.meta.url));
const NAMESPACE = 'gatehouse-e2e';
async function onPath(name: string): Promise<boolean> {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin']) {
    if (
      dir !== '' &&
      (await access(join(dir, name), constants.X_OK).then(
        () => true,
        () => false,
      ))
    )
      return true;
  }
  return false;
}
// kube-apiserver is built from Go modules (testkit/kube); etcd and kubectl are Debian packages.
const missing = [
  ...((await findGo()) === undefined ? ['Go >= 1.24'] : []),
  ...((await onPath('etcd')) ? [] : ['etcd-server']),
  ...((await onPath('kubectl')) ? [] : ['kubectl']),
];

interface AuthCodeList {
  items: Array<{ metadata: { name: string }; spec: { consumed?: boolean; clientId?: string } }>;
}

if (missing.length > 0 && process.env.CI !== 'true') {
  describe('reference flow (kubernetes)', () => {
    it.skip(`skipped: no Kubernetes API server can be started here (missing ${missing.join(', ')})`, () => {});
  });
} else {
  let kube: KubeCluster | undefined;
  let store: KubernetesStore | undefined;
  const seen: Array<{ code: string; names: string[] }> = [];

  defineFlowSuite({
    name: 'kubernetes',
    ldap: false,
    async stack() {
      kube = await startKubeApiServer({ namespace: NAMESPACE });
      const applied = await kube.kubectl(['apply', '-f', CRD_DIR]);
      if (applied.code !== 0) throw new Error(`kubectl apply -f deploy/crds: ${applied.stderr}`);
      const ready = await kube.kubectl(['wait', '--for=condition=Established', '--timeout=90s', '-f', CRD_DIR]);
      if (ready.code !== 0) throw new Error(`CRDs not established: ${ready.stderr}`);
      store = await openKubernetesStore({
        inCluster: false,
        kubeConfigFile: kube.kubeconfigPath,
        namespace: NAMESPACE,
      });
      return { storage: { kind: 'kubernetes', kubeconfigPath: kube.kubeconfigPath, namespace: NAMESPACE, store } };
    },
    async atCallback(callbackURL) {
      if (!kube || seen.length > 0) return;
      const res = await kube.kubectl(['get', 'authcodes', '-n', NAMESPACE, '-o', 'json']);
      if (res.code !== 0) throw new Error(`kubectl get authcodes: ${res.stderr}`);
      const table = await kube.kubectl(['get', 'authcodes', '-n', NAMESPACE]);
      console.log(`[e2e] kubectl get authcodes (browser paused before /oauth2/callback):\n${table.stdout}`);
      const list = JSON.parse(res.stdout) as AuthCodeList;
      seen.push({ code: callbackURL.searchParams.get('code') ?? '', names: list.items.map((i) => i.metadata.name) });
    },
    async afterFirstLogin() {
      expect(seen).toHaveLength(1);
      const [first] = seen;
      expect(first?.names.length).toBeGreaterThanOrEqual(1);
      const name = nameFor(first?.code ?? '');
      expect(first?.names).toContain(name);
      // forward-auth redeemed it: the same object is now consumed (or already collected), never redeemable again.
      const res = await kube?.kubectl(['get', 'authcodes', '-n', NAMESPACE, '-o', 'json']);
      const after = JSON.parse(res?.stdout ?? '{"items":[]}') as AuthCodeList;
      const item = after.items.find((i) => i.metadata.name === name);
      if (item !== undefined) expect(item.spec.consumed).toBe(true);
    },
    async afterAllExtra() {
      await store?.close();
      await kube?.stop();
    },
  });
}
