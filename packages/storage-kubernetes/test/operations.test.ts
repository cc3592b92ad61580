/**
 * The operations the README's "Deploying on Kubernetes" section gives, run as written (shell lines and kubectl;
 * the namespace as $NS) against the real API server and issuers on the CRD store: rotating the signing keys
 * now, rotating GATEHOUSE_STORAGE_KEY, and backing up and restoring the store's objects.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startIssuer, type RunningIssuer } from '@gatehouse/issuer';
import { testIssuerConfig } from '@gatehouse/issuer/testing';
import { getFreePort } from '@gatehouse/testkit/ports';
import type { KubeCluster } from '@gatehouse/testkit/kube';
import type { KubernetesStore } from '../src/index.ts';
import { freshNamespace, kubeAvailable, openTestStore, testKube } from './kube-env.ts';

// The README's lines, with `-n gatehouse` as `-n "$NS"`.
const ROTATE_NOW = `kubectl -n "$NS" patch signingkey signing-keys --type merge -p '{"spec":{"nextRotation":0}}'`;
const BACKUP = `kubectl -n "$NS" get "$(kubectl api-resources --api-group=gatehouse.dev -o name | paste -sd, -)" -o json > "$BACKUP_FILE"`;
const RESTORE = `kubectl -n "$NS" create -f "$BACKUP_FILE"`;

const newKey = (): string => randomBytes(32).toString('base64');

describe.skipIf(!kubeAvailable)('README operations on the CRD store', () => {
  let kube: KubeCluster;
  let namespace: string;
  let dir: string;
  const running: Array<{ issuer: RunningIssuer; store: KubernetesStore }> = [];

  const sh = async (line: string): Promise<string> => {
    const { stdout } = await promisify(execFile)('bash', ['-o', 'pipefail', '-c', line], {
      env: {
        ...process.env,
        KUBECONFIG: kube.kubeconfigPath,
        NS: namespace,
        BACKUP_FILE: join(dir, 'gatehouse-backup.json'),
      },
    });
    return stdout;
  };

  async function start(storageKey: string): Promise<RunningIssuer> {
    const store = await openTestStore(kube, namespace);
    const port = await getFreePort();
    try {
      const issuer = await startIssuer({
        config: testIssuerConfig(port),
        store,
        storageKey,
        keyCheckInterval: 1,
        logger: pino({ level: 'silent' }),
      });
      running.push({ issuer, store });
      return issuer;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  async function stopAll(): Promise<void> {
    for (const r of running.splice(0)) {
      await r.issuer.close();
      await r.store.close();
    }
  }

  const kids = async (issuer: RunningIssuer): Promise<string[]> =>
    ((await (await fetch(`${issuer.issuerURL}/keys`)).json()) as { keys: Array<{ kid: string }> }).keys.map(
      (k) => k.kid,
    );

  async function waitForKids(issuer: RunningIssuer, ok: (k: string[]) => boolean): Promise<string[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const k = await kids(issuer);
      if (ok(k)) return k;
      if (Date.now() > deadline) throw new Error(`keys stayed ${k.join(',')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    kube = await testKube();
    namespace = await freshNamespace(kube, 'ops');
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-ops-'));
  });

  afterAll(async () => {
    await stopAll();
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
    await rm(dir, { recursive: true, force: true });
  });

  const k1 = newKey();
  const k2 = newKey();

  it('rotating the signing keys now: the patch makes the replicas rotate; the old key stays published', async () => {
    const issuer = await start(k1);
    const [before] = await kids(issuer);
    expect(before).toBeDefined();
    await sh(ROTATE_NOW);
    const after = await waitForKids(issuer, (k) => k.length === 2);
    expect(after).toContain(before);
    expect(after.filter((k) => k !== before)).toHaveLength(1);
  });

  it('rotating GATEHOUSE_STORAGE_KEY: "NEW,OLD", a key rotation re-seals, then NEW alone; OLD alone no longer opens', async () => {
    await stopAll();
    const withBoth = await start(`${k2},${k1}`);
    const published = await kids(withBoth);
    await sh(ROTATE_NOW); // re-writes the key set (sealed with the first key)
    const rotated = await waitForKids(withBoth, (k) => k.some((kid) => !published.includes(kid)));
    await stopAll();
    expect(await kids(await start(k2))).toEqual(rotated);
    await stopAll();
    await expect(start(k1)).rejects.toThrow(/sealed with a storage key not in GATEHOUSE_STORAGE_KEY/);
  });

  it('back-up and restore: kubectl get -o json of every gatehouse.dev kind, kubectl create; keys come back sealed', async () => {
    await stopAll();
    const issuer = await start(k2);
    const published = await kids(issuer);
    await sh(BACKUP);
    const backup = JSON.parse(await readFile(join(dir, 'gatehouse-backup.json'), 'utf8')) as {
      items: Array<{ kind: string; spec: { signing?: Array<Record<string, unknown>> } }>;
    };
    const keySet = backup.items.find((i) => i.kind === 'SigningKeySet');
    // The private members are sealed in the file: it is worth nothing without the storage key.
    expect(keySet?.spec.signing?.[0]).toHaveProperty('$sealed');
    expect(keySet?.spec.signing?.[0]).not.toHaveProperty('d');
    await stopAll();

    // A disaster: every object is gone.
    await sh(
      `kubectl -n "$NS" delete "$(kubectl api-resources --api-group=gatehouse.dev -o name | paste -sd, -)" --all`,
    );
    expect(await sh(`kubectl -n "$NS" get signingkeys -o name`)).toBe('');
    await sh(RESTORE);
    expect(await kids(await start(k2))).toEqual(published);
    await stopAll();
    // Restored without the storage key it was sealed with, the keys do not open.
    await expect(start(newKey())).rejects.toThrow(/sealed with a storage key not in GATEHOUSE_STORAGE_KEY/);
  });
});
