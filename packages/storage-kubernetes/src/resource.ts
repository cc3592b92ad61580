/** REST operations on one custom resource type in one namespace, with Kubernetes statuses mapped. */
import { StoreError } from '@gatehouse/storage';
import { statusMessage, type KubeClient, type KubeResponse } from './client.ts';
import { API_VERSION, FIELD_MANAGER, GROUP, VERSION } from './kinds.ts';

export interface KubeObject<Spec = Record<string, unknown>> {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec: Spec;
  status?: Record<string, unknown>;
}

export interface KubeList<Spec> {
  items: KubeObject<Spec>[];
  metadata: { continue?: string; resourceVersion?: string };
}

/** The server dropped our continue token (410): the caller restarts its listing. */
export class ContinueExpiredError extends Error {
  constructor() {
    super('continue token expired');
    this.name = 'ContinueExpiredError';
  }
}

const MERGE_PATCH = 'application/merge-patch+json';
const APPLY_PATCH = 'application/apply-patch+yaml';

export class Resource<Spec = Record<string, unknown>> {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly plural: string;
  readonly kind: string;

  constructor(client: KubeClient, namespace: string, plural: string, kind: string) {
    this.client = client;
    this.namespace = namespace;
    this.plural = plural;
    this.kind = kind;
  }

  path(name?: string): string {
    const base = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${this.plural}`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  body(name: string, spec: Spec, labels?: Record<string, string>): KubeObject<Spec> {
    return {
      apiVersion: API_VERSION,
      kind: this.kind,
      metadata: { name, namespace: this.namespace, ...(labels ? { labels } : {}) },
      spec,
    };
  }

  async get(name: string): Promise<KubeObject<Spec> | undefined> {
    const res = await this.client.request({ method: 'GET', path: this.path(name) });
    if (res.status === 404) return undefined;
    return this.#expect(res, 'get', [200]) as KubeObject<Spec>;
  }

  /** Create or replace in one request (server-side apply, forced: we own every field we write). */
  async apply(name: string, spec: Spec, labels: Record<string, string>): Promise<KubeObject<Spec>> {
    const res = await this.client.request({
      method: 'PATCH',
      path: this.path(name),
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: this.body(name, spec, labels),
      contentType: APPLY_PATCH,
      retryOnReset: true,
    });
    return this.#expect(res, 'apply', [200, 201]) as KubeObject<Spec>;
  }

  /** POST; undefined when the name is taken (409). */
  async create(object: KubeObject<Spec>): Promise<KubeObject<Spec> | undefined> {
    const res = await this.client.request({ method: 'POST', path: this.path(), body: object });
    if (res.status === 409) return undefined;
    return this.#expect(res, 'create', [200, 201]) as KubeObject<Spec>;
  }

  /** PUT with the object's resourceVersion; 'conflict' on a stale version, 'missing' on 404. */
  async replace(object: KubeObject<Spec>): Promise<KubeObject<Spec> | 'conflict' | 'missing'> {
    const res = await this.client.request({ method: 'PUT', path: this.path(object.metadata.name), body: object });
    if (res.status === 409) return 'conflict';
    if (res.status === 404) return 'missing';
    return this.#expect(res, 'replace', [200]) as KubeObject<Spec>;
  }

  /** JSON merge patch; a `metadata.resourceVersion` in the patch is a precondition (409 → 'conflict'). */
  async mergePatch(
    name: string,
    patch: unknown,
    subresource?: 'status',
  ): Promise<KubeObject<Spec> | 'conflict' | 'missing'> {
    const res = await this.client.request({
      method: 'PATCH',
      path: subresource ? `${this.path(name)}/${subresource}` : this.path(name),
      body: patch,
      contentType: MERGE_PATCH,
      query: { fieldManager: FIELD_MANAGER },
    });
    if (res.status === 409) return 'conflict';
    if (res.status === 404) return 'missing';
    return this.#expect(res, 'patch', [200]) as KubeObject<Spec>;
  }

  /** true when deleted, false when absent or (with a precondition) changed meanwhile. */
  async delete(name: string, resourceVersion?: string): Promise<boolean> {
    const res = await this.client.request({
      method: 'DELETE',
      path: this.path(name),
      ...(resourceVersion
        ? { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } }
        : {}),
    });
    if (res.status === 404 || res.status === 409) return false;
    this.#expect(res, 'delete', [200, 202]);
    return true;
  }

  async deleteCollection(labelSelector: string): Promise<void> {
    const res = await this.client.request({ method: 'DELETE', path: this.path(), query: { labelSelector } });
    this.#expect(res, 'deletecollection', [200, 202]);
  }

  async list(options: { labelSelector?: string; limit?: number; continue?: string } = {}): Promise<KubeList<Spec>> {
    const res = await this.client.request({
      method: 'GET',
      path: this.path(),
      query: { labelSelector: options.labelSelector, limit: options.limit, continue: options.continue },
    });
    if (res.status === 410) throw new ContinueExpiredError();
    const list = this.#expect(res, 'list', [200]) as KubeList<Spec>;
    list.items ??= [];
    return list;
  }

  /** Every object (following continue tokens). */
  async listAll(labelSelector?: string): Promise<{ items: KubeObject<Spec>[]; resourceVersion: string | undefined }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const items: KubeObject<Spec>[] = [];
        let token: string | undefined;
        let resourceVersion: string | undefined;
        do {
          const page = await this.list({ labelSelector, limit: 500, continue: token });
          items.push(...page.items);
          resourceVersion ??= page.metadata.resourceVersion;
          token = page.metadata.continue || undefined;
        } while (token);
        return { items, resourceVersion };
      } catch (error) {
        if (!(error instanceof ContinueExpiredError) || attempt >= 3) throw error;
      }
    }
  }

  #expect(res: KubeResponse, op: string, ok: number[]): unknown {
    if (ok.includes(res.status)) return res.body;
    const detail = `kubernetes: ${op} ${this.plural} answered ${res.status}${statusMessage(res.body)}`;
    if (res.status === 404) {
      throw new StoreError(
        'unavailable',
        `${detail}: is the namespace there and are the CRDs installed (kubectl apply -f deploy/crds)?`,
      );
    }
    if (res.status === 400 || res.status === 422 || res.status === 413) throw new StoreError('invalid', detail);
    if (res.status === 409) throw new StoreError('conflict', detail);
    throw new StoreError('unavailable', detail);
  }
}
