/**
 * Broker records as custom resources: OAuth2 clients, connectors, password users, offline
 * sessions and the signing-key set. Names are hashes of the record key; the key is kept in the
 * spec and re-checked on read. Clients and connectors may also be written with kubectl under
 * any name: lookups then fall back to the key in the spec.
 */
import {
  StoreError,
  type ChangeEvent,
  type ConnectorRecord,
  type KeyStore,
  type OAuth2Client,
  type OfflineSession,
  type OfflineSessionStore,
  type PasswordUser,
  type RecordStore,
  type SigningKeySet,
  type VersionedKeys,
} from '@gatehouse/storage';
import type { Logger } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { LABELS, MANAGED_BY, RECORD_KINDS } from './kinds.ts';
import { nameFor } from './names.ts';
import { Resource, type KubeObject } from './resource.ts';
import { encodeJSON, passwordKey, requireId } from '@gatehouse/storage/backend-rules';
import { ResourceWatcher } from './watcher.ts';

/** A record parsed from a spec, or why the spec is not acceptable. */
export type Parsed<T> = { ok: true; record: T } | { ok: false; reason: string };

export interface RecordCodec<T> {
  what: string;
  keyOf(record: T): string;
  normaliseKey(id: string): string;
  /** The spec to write; throws StoreError('invalid') for a record that cannot be stored. */
  toSpec(record: T): Record<string, unknown>;
  parse(spec: unknown): Parsed<T>;
}

interface StoreContext {
  client: KubeClient;
  kc: KubeConfig;
  namespace: string;
  guard: () => void;
  logger: Logger;
}

export class KubernetesRecordStore<T extends object> implements RecordStore<T> {
  readonly resource: Resource;
  readonly #codec: RecordCodec<T>;
  readonly #ctx: StoreContext;
  readonly #watchable: boolean;
  #watcher: ResourceWatcher<T> | undefined;

  constructor(ctx: StoreContext, kind: { plural: string; kind: string }, codec: RecordCodec<T>, watchable: boolean) {
    this.resource = new Resource(ctx.client, ctx.namespace, kind.plural, kind.kind);
    this.#codec = codec;
    this.#ctx = ctx;
    this.#watchable = watchable;
  }

  async get(id: string): Promise<T | undefined> {
    this.#ctx.guard();
    if (typeof id !== 'string' || id.length === 0) return undefined;
    const key = this.#codec.normaliseKey(id);
    const object = await this.resource.get(nameFor(key));
    if (object) {
      const parsed = this.#codec.parse(object.spec);
      if (parsed.ok && this.#codec.keyOf(parsed.record) === key) return parsed.record;
    }
    if (!this.#watchable) return undefined;
    // Written with kubectl under a name of its own choosing.
    return (await this.#others(key))[0]?.record;
  }

  async list(): Promise<T[]> {
    this.#ctx.guard();
    const { items } = await this.resource.listAll();
    const out: T[] = [];
    for (const object of items) {
      const parsed = this.#codec.parse(object.spec);
      if (parsed.ok) out.push(parsed.record);
    }
    return out;
  }

  async upsert(record: T): Promise<void> {
    this.#ctx.guard();
    const spec = this.#codec.toSpec(record);
    const parsed = this.#codec.parse(spec);
    if (!parsed.ok) throw new StoreError('invalid', `${this.#codec.what}: ${parsed.reason}`);
    const key = this.#codec.normaliseKey(requireId(this.#codec.keyOf(parsed.record), `${this.#codec.what} key`));
    // A kubectl-named object with this key is updated in place rather than duplicated.
    const existing = this.#watchable ? (await this.#others(key))[0]?.name : undefined;
    await this.resource.apply(existing ?? nameFor(key), spec, { [LABELS.managedBy]: MANAGED_BY });
  }

  async delete(id: string): Promise<void> {
    this.#ctx.guard();
    if (typeof id !== 'string' || id.length === 0) return;
    const key = this.#codec.normaliseKey(id);
    await this.resource.delete(nameFor(key));
    if (this.#watchable) {
      for (const other of await this.#others(key)) await this.resource.delete(other.name);
    }
  }

  /** Objects not named by the hash whose spec carries `key` (from the watch cache when it runs). */
  async #others(key: string): Promise<Array<{ name: string; record: T }>> {
    const hashed = nameFor(key);
    const cached = this.#watcher?.synced ? this.#watcher.byKey(key) : undefined;
    if (cached) return cached.filter((o) => o.name !== hashed);
    const { items } = await this.resource.listAll();
    const out: Array<{ name: string; record: T }> = [];
    for (const object of items) {
      if (object.metadata.name === hashed) continue;
      const parsed = this.#codec.parse(object.spec);
      if (parsed.ok && this.#codec.keyOf(parsed.record) === key)
        out.push({ name: object.metadata.name, record: parsed.record });
    }
    return out;
  }

  watch(onChange: (event: ChangeEvent<T>) => void): () => void {
    if (!this.#watchable) throw new StoreError('invalid', `${this.#codec.what} records are not watchable`);
    this.#watcher ??= new ResourceWatcher<T>({
      resource: this.resource,
      kc: this.#ctx.kc,
      logger: this.#ctx.logger,
      keyOf: (r) => this.#codec.keyOf(r),
      parse: (spec) => this.#codec.parse(spec),
    });
    return this.#watcher.subscribe(onChange);
  }

  /** Starts the watch without a subscriber (status conditions for kubectl-applied objects). */
  startWatching(): void {
    if (this.#watchable && !this.#watcher) this.watch(() => {}); // keeps running until close
  }

  close(): void {
    this.#watcher?.stop();
  }
}

// ---- codecs ---------------------------------------------------------------------------------

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function optionalString(spec: Record<string, unknown>, key: string, errors: string[]): void {
  if (spec[key] !== undefined && typeof spec[key] !== 'string') errors.push(`${key} must be a string`);
}

/** An absolute URI with a scheme and no fragment (RFC 6749 §3.1.2); custom schemes allowed for native apps. */
function redirectProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `redirect URI ${JSON.stringify(uri)} is not an absolute URI`;
  }
  if (url.hash || uri.includes('#')) return `redirect URI ${JSON.stringify(uri)} must not contain a fragment`;
  if (url.protocol === 'javascript:' || url.protocol === 'data:')
    return `redirect URI ${JSON.stringify(uri)} has a forbidden scheme`;
  return undefined;
}

const CLIENT_KEYS = [
  'id',
  'secret',
  'redirectURIs',
  'postLogoutRedirectURIs',
  'trustedPeers',
  'public',
  'name',
  'logoURL',
  'allowedConnectors',
] as const;

export const clientCodec: RecordCodec<OAuth2Client> = {
  what: 'client',
  keyOf: (c) => c.id,
  normaliseKey: (id) => id,
  toSpec(record) {
    encodeJSON(record, 'client');
    const spec: Record<string, unknown> = {};
    for (const key of CLIENT_KEYS) if (record[key] !== undefined) spec[key] = record[key];
    return spec;
  },
  parse(raw) {
    const spec = (raw ?? {}) as Record<string, unknown>;
    const errors: string[] = [];
    if (typeof spec.id !== 'string' || spec.id.length === 0) errors.push('id must be a non-empty string');
    if (!isStringArray(spec.redirectURIs)) errors.push('redirectURIs must be a list of strings');
    else
      for (const uri of spec.redirectURIs) {
        const problem = redirectProblem(uri);
        if (problem) errors.push(problem);
      }
    for (const key of ['postLogoutRedirectURIs', 'trustedPeers'] as const) {
      if (spec[key] !== undefined && !isStringArray(spec[key])) errors.push(`${key} must be a list of strings`);
    }
    if (isStringArray(spec.postLogoutRedirectURIs)) {
      for (const uri of spec.postLogoutRedirectURIs) {
        const problem = redirectProblem(uri);
        if (problem) errors.push(`post-logout ${problem}`);
      }
    }
    // A restriction that cannot be read must not become "any connector": the client is refused.
    if (
      spec.allowedConnectors !== undefined &&
      !(isStringArray(spec.allowedConnectors) && spec.allowedConnectors.every((c) => c.length > 0))
    ) {
      errors.push('allowedConnectors must be a list of non-empty connector ids');
    }
    for (const key of ['secret', 'name', 'logoURL'] as const) optionalString(spec, key, errors);
    if (spec.public !== undefined && typeof spec.public !== 'boolean') errors.push('public must be a boolean');
    if (errors.length > 0) return { ok: false, reason: errors.join('; ') };
    const record: Record<string, unknown> = {};
    for (const key of CLIENT_KEYS) if (spec[key] !== undefined) record[key] = spec[key];
    return { ok: true, record: record as unknown as OAuth2Client };
  },
};

export const connectorCodec: RecordCodec<ConnectorRecord> = {
  what: 'connector',
  keyOf: (c) => c.id,
  normaliseKey: (id) => id,
  toSpec(record) {
    encodeJSON(record, 'connector');
    return { id: record.id, type: record.type, name: record.name, config: record.config ?? {} };
  },
  parse(raw) {
    const spec = (raw ?? {}) as Record<string, unknown>;
    const errors: string[] = [];
    if (typeof spec.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(spec.id)) {
      errors.push('id must be letters, digits, ".", "_" or "-" (it appears in URLs and user ids)');
    }
    if (typeof spec.type !== 'string' || spec.type.length === 0) errors.push('type must be a non-empty string');
    if (typeof spec.name !== 'string') errors.push('name must be a string');
    if (
      spec.config !== undefined &&
      (spec.config === null || typeof spec.config !== 'object' || Array.isArray(spec.config))
    ) {
      errors.push('config must be an object');
    }
    if (errors.length > 0) return { ok: false, reason: errors.join('; ') };
    return {
      ok: true,
      record: {
        id: spec.id as string,
        type: spec.type as string,
        name: spec.name as string,
        config: spec.config ?? {},
      },
    };
  },
};

export const passwordCodec: RecordCodec<PasswordUser> = {
  what: 'password user',
  keyOf: (p) => p.email,
  normaliseKey: passwordKey,
  toSpec(record) {
    encodeJSON(record, 'password user');
    requireId(record.email, 'password user email');
    return { email: passwordKey(record.email), hash: record.hash, username: record.username, userId: record.userId };
  },
  parse(raw) {
    const spec = (raw ?? {}) as Record<string, unknown>;
    for (const key of ['email', 'hash', 'username', 'userId'] as const) {
      if (typeof spec[key] !== 'string') return { ok: false, reason: `${key} must be a string` };
    }
    return {
      ok: true,
      record: {
        email: spec.email as string,
        hash: spec.hash as string,
        username: spec.username as string,
        userId: spec.userId as string,
      },
    };
  },
};

// ---- offline sessions and keys ----------------------------------------------------------------

interface OfflineSpec {
  userId: string;
  connectorId: string;
  connectorData?: string;
  updatedAt: number;
}

export class KubernetesOfflineSessionStore implements OfflineSessionStore {
  readonly resource: Resource<OfflineSpec>;
  readonly #guard: () => void;

  constructor(ctx: StoreContext) {
    const info = RECORD_KINDS.offlineSessions;
    this.resource = new Resource<OfflineSpec>(ctx.client, ctx.namespace, info.plural, info.kind);
    this.#guard = ctx.guard;
  }

  static nameOf(userId: string, connectorId: string): string {
    return nameFor(JSON.stringify([userId, connectorId]));
  }

  async get(userId: string, connectorId: string): Promise<OfflineSession | undefined> {
    this.#guard();
    const object = await this.resource.get(KubernetesOfflineSessionStore.nameOf(userId, connectorId));
    if (!object || object.spec.userId !== userId || object.spec.connectorId !== connectorId) return undefined;
    const session: OfflineSession = { userId, connectorId, updatedAt: object.spec.updatedAt };
    if (object.spec.connectorData !== undefined)
      session.connectorData = JSON.parse(object.spec.connectorData) as unknown;
    return session;
  }

  async upsert(session: OfflineSession): Promise<void> {
    this.#guard();
    requireId(session.userId, 'offline session userId');
    requireId(session.connectorId, 'offline session connectorId');
    encodeJSON(session, 'offline session');
    if (typeof session.updatedAt !== 'number' || !Number.isFinite(session.updatedAt)) {
      throw new StoreError('invalid', 'offline session updatedAt must be a number');
    }
    const spec: OfflineSpec = {
      userId: session.userId,
      connectorId: session.connectorId,
      updatedAt: Math.floor(session.updatedAt),
      ...(session.connectorData !== undefined ? { connectorData: JSON.stringify(session.connectorData) } : {}),
    };
    await this.resource.apply(KubernetesOfflineSessionStore.nameOf(session.userId, session.connectorId), spec, {
      [LABELS.managedBy]: MANAGED_BY,
    });
  }

  async delete(userId: string, connectorId: string): Promise<void> {
    this.#guard();
    await this.resource.delete(KubernetesOfflineSessionStore.nameOf(userId, connectorId));
  }
}

/** The single signing-key object; its resourceVersion is the compare-and-swap version. */
export const SIGNING_KEYS_NAME = 'signing-keys';

export class KubernetesKeyStore implements KeyStore {
  readonly resource: Resource<SigningKeySet & Record<string, unknown>>;
  readonly #guard: () => void;

  constructor(ctx: StoreContext) {
    const info = RECORD_KINDS.signingKeys;
    this.resource = new Resource(ctx.client, ctx.namespace, info.plural, info.kind);
    this.#guard = ctx.guard;
  }

  async get(): Promise<VersionedKeys | undefined> {
    this.#guard();
    const object = await this.resource.get(SIGNING_KEYS_NAME);
    if (!object?.metadata.resourceVersion) return undefined;
    return { keys: toKeySet(object), version: object.metadata.resourceVersion };
  }

  async compareAndSwap(expectedVersion: string | undefined, next: SigningKeySet): Promise<boolean> {
    this.#guard();
    encodeJSON(next, 'signing key set');
    const spec = { signing: next.signing, retired: next.retired, nextRotation: next.nextRotation };
    const body = this.resource.body(SIGNING_KEYS_NAME, spec, { [LABELS.managedBy]: MANAGED_BY });
    if (expectedVersion === undefined) return (await this.resource.create(body)) !== undefined;
    // Versions we hand out are resourceVersions; anything else cannot match.
    if (!/^[0-9]+$/.test(expectedVersion)) return false;
    body.metadata.resourceVersion = expectedVersion;
    const result = await this.resource.replace(body);
    return result !== 'conflict' && result !== 'missing';
  }
}

function toKeySet(object: KubeObject<SigningKeySet & Record<string, unknown>>): SigningKeySet {
  return {
    signing: object.spec.signing ?? [],
    retired: object.spec.retired ?? [],
    nextRotation: object.spec.nextRotation,
  };
}
