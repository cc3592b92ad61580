/**
 * In-cluster mode as a pod sees it: a service-account token (TokenRequest API), the CA and the
 * namespace file, KUBERNETES_SERVICE_HOST/PORT — and only the Role from deploy/kustomize. Proves
 * that Role is enough for everything the store does, and that a rotated token is picked up.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError, type ChangeEvent, type OAuth2Client } from '@gatehouse/storage';
import type { KubeCluster } from '@gatehouse/testkit/kube';
import { openKubernetesStore, type KubernetesStore } from '../src/index.ts';
import { freshNamespace, kubeAvailable, quietLogger, testKube } from './kube-env.ts';

const RBAC = fileURLToPath(new URL('../../../deploy/kustomize/base/rbac.yaml', import.meta.url));
const SA = 'var/run/secrets/kubernetes.io/serviceaccount';
const newId = (): string => randomBytes(32).toString('base64url');

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve(check()).catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!kubeAvailable)('in-cluster service account with the deploy/kustomize Role', () => {
  let kube: KubeCluster;
  let namespace: string;
  let prefix: string;
  let store: KubernetesStore | undefined;
  const savedEnv = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };

  async function token(): Promise<string> {
    const res = await kube.kubectl(['create', 'token', 'gatehouse-issuer', '-n', namespace, '--duration=10m']);
    if (res.code !== 0) throw new Error(res.stderr);
    return res.stdout.trim();
  }

  beforeAll(async () => {
    kube = await testKube();
    namespace = await freshNamespace(kube, 'incluster');
    expect((await kube.kubectl(['create', 'serviceaccount', 'gatehouse-issuer', '-n', namespace])).code).toBe(0);
    const rbac = (await readFile(RBAC, 'utf8')).replaceAll('namespace: gatehouse', `namespace: ${namespace}`);
    const applied = await kube.kubectl(['apply', '-n', namespace, '-f', '-'], { input: rbac });
    expect(applied.code, applied.stderr).toBe(0);

    prefix = await mkdtemp(join(tmpdir(), 'gatehouse-sa-'));
    await mkdir(join(prefix, SA), { recursive: true });
    await writeFile(join(prefix, SA, 'token'), await token());
    await writeFile(join(prefix, SA, 'ca.crt'), kube.caPem);
    await writeFile(join(prefix, SA, 'namespace'), namespace);
    const url = new URL(kube.server);
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
  });

  afterAll(async () => {
    await store?.close();
    for (const [key, value] of [
      ['KUBERNETES_SERVICE_HOST', savedEnv.host],
      ['KUBERNETES_SERVICE_PORT', savedEnv.port],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (prefix) await rm(prefix, { recursive: true, force: true });
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  it('does all store operations with only the Role, in the namespace from the service-account file', async () => {
    store = await openKubernetesStore(
      { inCluster: true },
      { logger: quietLogger, inClusterPathPrefix: prefix, tokenRereadMs: 100 },
    );
    expect(store.namespace).toBe(namespace);

    const codes = store.model('AuthorizationCode');
    const id = newId();
    const grantId = newId();
    await codes.upsert(id, { jti: id, grantId, clientId: 'c' }, 600);
    expect((await codes.find(id))?.grantId).toBe(grantId);
    expect(await codes.consume(id)).toBe(true);
    await codes.revokeByGrantId(grantId); // deletecollection
    expect(await codes.find(id)).toBeUndefined();
    await codes.upsert(newId(), { grantId }, -1);
    expect(await store.gc()).toBeGreaterThanOrEqual(1);

    const current = await store.keys.get();
    expect(
      await store.keys.compareAndSwap(current?.version, {
        signing: [{ kid: 'k1', alg: 'ES256', kty: 'EC' }],
        retired: [],
        nextRotation: 1,
      }),
    ).toBe(true);

    // Watch + the status subresource (the Valid condition) with the same credentials.
    const events: ChangeEvent<OAuth2Client>[] = [];
    const stop = store.clients.watch((e) => events.push(e));
    try {
      await store.clients.upsert({ id: 'sa-client', redirectURIs: ['https://app.example.com/cb'] });
      expect(await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === 'sa-client'), 5000)).toBe(
        true,
      );
      const valid = await eventually(async () => {
        const r = await kube.kubectl([
          'get',
          'oauth2clients',
          '-n',
          namespace,
          '-o',
          'jsonpath={.items[0].status.conditions[0].status}',
        ]);
        return r.stdout === 'True';
      }, 5000);
      expect(valid).toBe(true);
    } finally {
      stop();
    }
    await store.passwords.upsert({ email: 'A@Example.com', hash: 'h', username: 'a', userId: '1' });
    await store.offlineSessions.upsert({ userId: '1', connectorId: 'ldap', updatedAt: 1 });
    await store.ping();
  });

  it('re-reads a rotated token: a revoked one fails as unavailable, a fresh one works again', async () => {
    expect(store).toBeDefined();
    const s = store!;
    await writeFile(join(prefix, SA, 'token'), 'not-a-valid-token');
    const failed = await eventually(async () => {
      try {
        await s.ping();
        return false;
      } catch (error) {
        return error instanceof StoreError && error.code === 'unavailable' && error.message.includes('401');
      }
    }, 5000);
    expect(failed).toBe(true);
    await writeFile(join(prefix, SA, 'token'), await token());
    expect(await eventually(async () => (await s.ping(), true), 5000)).toBe(true);
  });
});
