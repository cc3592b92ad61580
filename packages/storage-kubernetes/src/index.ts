/**
 * @gatehouse/storage-kubernetes: the Store over CustomResourceDefinitions (group gatehouse.dev/v1,
 * one namespaced kind per record type, manifests in deploy/crds). In-cluster (service account,
 * token re-read when it rotates) or from a kubeconfig file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import {
  MODEL_NAMES,
  StoreError,
  type ConnectorRecord,
  type KeyStore,
  type KubernetesStorageConfig,
  type ModelName,
  type ModelStore,
  type OAuth2Client,
  type OfflineSessionStore,
  type PasswordUser,
  type Store,
} from '@gatehouse/storage';
import { closedError, modelOf } from '@gatehouse/storage/backend-rules';
import { KubeClient } from './client.ts';
import { API_VERSION, allKinds, RECORD_KINDS } from './kinds.ts';
import { KubernetesModelStore } from './model-store.ts';
import {
  clientCodec,
  connectorCodec,
  KubernetesKeyStore,
  KubernetesOfflineSessionStore,
  KubernetesRecordStore,
  passwordCodec,
} from './record-stores.ts';

export { crdManifests } from './crds.ts';
export { GROUP, VERSION, MODEL_KINDS, RECORD_KINDS, LABELS } from './kinds.ts';
export { nameFor, labelFor } from './names.ts';

/** The `storage.config` section for `type: kubernetes` (Dex's keys), as @gatehouse/storage defines it. */
export type KubernetesStoreConfig = KubernetesStorageConfig;

export interface KubernetesStoreOptions {
  logger?: Logger;
  /** Bound on every API request (default 10 s). */
  requestTimeoutMs?: number;
  /** Service-account token re-read interval (default 60 s). */
  tokenRereadMs?: number;
  /** Root for the service-account files in-cluster (tests); default `/`. */
  inClusterPathPrefix?: string;
  /** Objects per gc list page (default 500). */
  gcPageSize?: number;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubernetesStore implements Store {
  readonly type = 'kubernetes';
  readonly namespace: string;
  readonly keys: KeyStore;
  readonly clients: KubernetesRecordStore<OAuth2Client>;
  readonly connectors: KubernetesRecordStore<ConnectorRecord>;
  readonly offlineSessions: OfflineSessionStore;
  readonly passwords: KubernetesRecordStore<PasswordUser>;
  readonly #client: KubeClient;
  readonly #models = new Map<ModelName, KubernetesModelStore>();
  readonly #gcPageSize: number;
  #closed = false;

  constructor(kc: KubeConfig, namespace: string, options: KubernetesStoreOptions = {}) {
    this.namespace = namespace;
    this.#client = new KubeClient(kc, options);
    this.#gcPageSize = options.gcPageSize ?? 500;
    const guard = (): void => {
      if (this.#closed) throw closedError('kubernetes');
    };
    const logger = options.logger ?? pino({ name: 'gatehouse-storage-kubernetes' });
    const ctx = { client: this.#client, kc, namespace, guard, logger };
    for (const name of MODEL_NAMES)
      this.#models.set(name, new KubernetesModelStore(name, this.#client, namespace, guard));
    this.keys = new KubernetesKeyStore(ctx);
    this.clients = new KubernetesRecordStore(ctx, RECORD_KINDS.clients, clientCodec, true);
    this.connectors = new KubernetesRecordStore(ctx, RECORD_KINDS.connectors, connectorCodec, true);
    this.passwords = new KubernetesRecordStore(ctx, RECORD_KINDS.passwords, passwordCodec, false);
    this.offlineSessions = new KubernetesOfflineSessionStore(ctx);
  }

  /** API requests sent so far (round-trip counting in the bench). */
  get requestCount(): number {
    return this.#client.requestCount;
  }

  /** API requests sent so far per resource plural (`grants`, `authcodes`, ...). */
  get requestCountsByResource(): ReadonlyMap<string, number> {
    return this.#client.requestCountsByResource;
  }

  model(name: ModelName): ModelStore {
    return modelOf(this.#models, name);
  }

  async gc(now: Date = new Date()): Promise<number> {
    if (this.#closed) throw closedError('kubernetes');
    let removed = 0;
    for (const store of this.#models.values()) removed += await store.gc(now.getTime(), this.#gcPageSize);
    return removed;
  }

  async ping(): Promise<void> {
    if (this.#closed) throw closedError('kubernetes');
    await this.keys.get();
  }

  /** Names every CRD the store needs that the API server does not serve. */
  async checkCrds(): Promise<void> {
    const res = await this.#client.request({ method: 'GET', path: `/apis/${API_VERSION}` });
    const served = new Set<string>();
    if (res.status === 200) {
      for (const r of (res.body as { resources?: Array<{ name?: string }> }).resources ?? [])
        if (r.name) served.add(r.name);
    } else if (res.status !== 404) {
      throw new StoreError('unavailable', `kubernetes: discovery of ${API_VERSION} answered ${res.status}`);
    }
    const missing = allKinds()
      .map((k) => k.plural)
      .filter((plural) => !served.has(plural));
    if (missing.length > 0) {
      throw new StoreError(
        'invalid',
        `kubernetes: missing CustomResourceDefinitions ${missing.map((p) => `${p}.${API_VERSION.split('/')[0]}`).join(', ')} (install them with kubectl apply -f deploy/crds)`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.clients.close();
    this.connectors.close();
    this.#client.close();
  }
}

/** Loads the cluster configuration: exactly one of inCluster and kubeConfigFile. */
export function loadKubeConfig(
  config: KubernetesStoreConfig,
  options: Pick<KubernetesStoreOptions, 'inClusterPathPrefix'> = {},
): { kc: KubeConfig; namespace: string } {
  const problems: string[] = [];
  if (typeof config?.inCluster !== 'boolean') problems.push('storage.config.inCluster must be true or false');
  if (config?.inCluster && config.kubeConfigFile)
    problems.push('storage.config: set inCluster or kubeConfigFile, not both');
  if (config?.inCluster === false && !config.kubeConfigFile)
    problems.push('storage.config.kubeConfigFile is required unless inCluster is true');
  if (config?.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(config.namespace)) {
    problems.push('storage.config.namespace must be a DNS-1123 label');
  }
  if (problems.length > 0) throw new StoreError('invalid', problems.join('; '));
  const kc = new KubeConfig();
  if (config.inCluster) {
    const prefix = options.inClusterPathPrefix ?? '';
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new StoreError(
        'invalid',
        'storage.config.inCluster: KUBERNETES_SERVICE_HOST/PORT are not set (not running in a pod?)',
      );
    }
    if (!existsSync(`${prefix}${SA_DIR}/token`)) {
      throw new StoreError('invalid', `storage.config.inCluster: no service-account token at ${prefix}${SA_DIR}/token`);
    }
    kc.loadFromCluster(prefix);
    const nsFile = `${prefix}${SA_DIR}/namespace`;
    const namespace =
      config.namespace ??
      process.env.KUBERNETES_POD_NAMESPACE ??
      (existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : 'default');
    return { kc, namespace };
  }
  try {
    kc.loadFromFile(config.kubeConfigFile!);
  } catch (cause) {
    throw new StoreError(
      'invalid',
      `storage.config.kubeConfigFile ${config.kubeConfigFile}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!kc.getCurrentCluster())
    throw new StoreError('invalid', `storage.config.kubeConfigFile ${config.kubeConfigFile}: no current context`);
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { kc, namespace: config.namespace ?? contextNamespace ?? 'default' };
}

/** Opens the store and checks that every CRD is installed (StoreError 'invalid' names the missing ones). */
export async function openKubernetesStore(
  config: KubernetesStoreConfig,
  options: KubernetesStoreOptions = {},
): Promise<KubernetesStore> {
  const { kc, namespace } = loadKubeConfig(config, options);
  const store = new KubernetesStore(kc, namespace, options);
  try {
    await store.checkCrds();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
