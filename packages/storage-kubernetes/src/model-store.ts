/**
 * One oidc-provider model as custom resources. The object name is a hash of the id and the id
 * itself is not stored (it is the bearer secret of tokens and codes): `jti` is removed from the
 * payload and re-added on read from the id the caller gave. Session and DeviceCode keep `jti`,
 * because findByUid/findByUserCode must return it without knowing it.
 */
import { StoreError, type ModelName, type ModelPayload, type ModelStore } from '@gatehouse/storage';
import { LABELS, MANAGED_BY, MODEL_KINDS } from './kinds.ts';
import { dayOf, labelFor, nameFor, sameHash, sha256Hex } from './names.ts';
import {
  consumedAtFrom,
  encodeJSON,
  expiresAtFrom,
  isExpired as expiredAt,
  requireId,
} from '@gatehouse/storage/backend-rules';
import { ContinueExpiredError, Resource, type KubeObject } from './resource.ts';
import type { KubeClient } from './client.ts';

export interface ModelSpec {
  idHash: string;
  jtiIsId?: boolean;
  payload: string;
  expiresAt?: string;
  consumed?: boolean;
  consumedAt?: string;
  clientId?: string;
  accountId?: string;
}

/** Models that are looked up by something other than the id and so must keep `jti`. */
const KEEPS_JTI: ReadonlySet<ModelName> = new Set(['Session', 'DeviceCode']);

/** resourceVersions seen recently, so consume() after find()/upsert() needs one request, not two. */
class VersionCache {
  readonly #entries = new Map<string, { rv: string; consumed: boolean; at: number }>();
  static readonly TTL_MS = 30_000;
  static readonly MAX = 2_000;

  set(name: string, rv: string | undefined, consumed: boolean): void {
    if (!rv) return;
    this.#entries.delete(name);
    this.#entries.set(name, { rv, consumed, at: Date.now() });
    if (this.#entries.size > VersionCache.MAX) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  get(name: string): { rv: string; consumed: boolean } | undefined {
    const entry = this.#entries.get(name);
    if (!entry) return undefined;
    if (Date.now() - entry.at > VersionCache.TTL_MS) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry;
  }

  delete(name: string): void {
    this.#entries.delete(name);
  }
}

export class KubernetesModelStore implements ModelStore {
  readonly model: ModelName;
  readonly resource: Resource<ModelSpec>;
  readonly #versions = new VersionCache();
  readonly #guard: () => void;

  constructor(model: ModelName, client: KubeClient, namespace: string, guard: () => void) {
    this.model = model;
    const info = MODEL_KINDS[model];
    this.resource = new Resource<ModelSpec>(client, namespace, info.plural, info.kind);
    this.#guard = guard;
  }

  async upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    this.#guard();
    requireId(id, 'id');
    encodeJSON(payload, 'payload');
    const now = Date.now();
    const expiresAt = expiresAtFrom(expiresIn, now);
    const consumedAt = consumedAtFrom(payload, now);
    const stored: Record<string, unknown> = { ...payload };
    const jtiIsId = !KEEPS_JTI.has(this.model) && stored.jti === id;
    if (jtiIsId) delete stored.jti;
    const spec: ModelSpec = {
      idHash: sha256Hex(id),
      jtiIsId,
      payload: encodeJSON(stored, 'payload'),
      consumed: consumedAt !== undefined,
      ...(consumedAt !== undefined ? { consumedAt: new Date(consumedAt).toISOString() } : {}),
      ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
      ...(typeof payload.clientId === 'string' ? { clientId: payload.clientId } : {}),
      ...(typeof payload.accountId === 'string' ? { accountId: payload.accountId } : {}),
    };
    const labels: Record<string, string> = { [LABELS.managedBy]: MANAGED_BY };
    if (typeof payload.grantId === 'string') labels[LABELS.grant] = labelFor(payload.grantId);
    if (typeof payload.uid === 'string') labels[LABELS.uid] = labelFor(payload.uid);
    if (typeof payload.userCode === 'string') labels[LABELS.userCode] = labelFor(payload.userCode);
    if (expiresAt !== undefined) {
      labels[LABELS.expires] = 'true';
      labels[LABELS.expiryDay] = dayOf(expiresAt);
    }
    const name = nameFor(id);
    const written = await this.resource.apply(name, spec, labels);
    this.#versions.set(name, written.metadata.resourceVersion, spec.consumed === true);
  }

  async find(id: string): Promise<ModelPayload | undefined> {
    this.#guard();
    if (typeof id !== 'string' || id.length === 0) return undefined;
    const name = nameFor(id);
    const object = await this.resource.get(name);
    if (!object || !sameHash(object.spec.idHash ?? '', sha256Hex(id))) return undefined;
    if (isExpired(object, Date.now())) return undefined;
    this.#versions.set(name, object.metadata.resourceVersion, object.spec.consumed === true);
    return decode(object, id);
  }

  async findByUid(uid: string): Promise<ModelPayload | undefined> {
    this.#guard();
    return this.#findByLabel(LABELS.uid, 'uid', uid);
  }

  async findByUserCode(userCode: string): Promise<ModelPayload | undefined> {
    this.#guard();
    return this.#findByLabel(LABELS.userCode, 'userCode', userCode);
  }

  async #findByLabel(label: string, field: 'uid' | 'userCode', value: string): Promise<ModelPayload | undefined> {
    if (typeof value !== 'string' || value.length === 0) return undefined;
    const { items } = await this.resource.listAll(`${label}=${labelFor(value)}`);
    const now = Date.now();
    for (const object of items) {
      if (isExpired(object, now)) continue;
      const payload = decode(object, undefined);
      if (payload && payload[field] === value) return payload;
    }
    return undefined;
  }

  /**
   * Compare-and-swap on resourceVersion: a merge patch that carries the resourceVersion we read
   * is refused with 409 when anyone wrote in between, so of N concurrent callers one wins.
   */
  async consume(id: string): Promise<boolean> {
    this.#guard();
    if (typeof id !== 'string' || id.length === 0) return false;
    const name = nameFor(id);
    const idHash = sha256Hex(id);
    let known = this.#versions.get(name);
    for (let attempt = 0; attempt < 8; attempt++) {
      if (!known) {
        const object = await this.resource.get(name);
        if (!object || !sameHash(object.spec.idHash ?? '', idHash) || isExpired(object, Date.now())) return false;
        known = { rv: object.metadata.resourceVersion ?? '', consumed: object.spec.consumed === true };
        this.#versions.set(name, known.rv, known.consumed);
      }
      if (known.consumed) return false;
      const now = Date.now();
      const result = await this.resource.mergePatch(name, {
        metadata: { resourceVersion: known.rv },
        spec: { consumed: true, consumedAt: new Date(now).toISOString() },
      });
      if (result === 'missing') {
        this.#versions.delete(name);
        return false;
      }
      if (result === 'conflict') {
        // Someone wrote since we read: re-read; if it is consumed now, we lost.
        this.#versions.delete(name);
        known = undefined;
        continue;
      }
      this.#versions.set(name, result.metadata.resourceVersion, true);
      return sameHash(result.spec.idHash ?? '', idHash) && !isExpired(result, now);
    }
    throw new StoreError('conflict', `kubernetes: consume of a ${this.model} kept conflicting`);
  }

  async destroy(id: string): Promise<void> {
    this.#guard();
    if (typeof id !== 'string' || id.length === 0) return;
    const name = nameFor(id);
    this.#versions.delete(name);
    await this.resource.delete(name);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#guard();
    if (typeof grantId !== 'string' || grantId.length === 0) return;
    await this.resource.deleteCollection(`${LABELS.grant}=${labelFor(grantId)}`);
  }

  /**
   * Deletes expired records, following continue tokens until the last page (Dex stops after the
   * first 500). Two label-selector lists, so live records are (nearly) never fetched: every day
   * bucket before today except the next FUTURE_DAYS (all expired, unless a record lives longer
   * than that: such ones are checked and kept), then today's bucket, checked record by record.
   * Each delete carries the listed resourceVersion, so a record renewed meanwhile stays.
   */
  async gc(nowMs: number, pageSize = 500, concurrency = 16): Promise<number> {
    const today = dayOf(nowMs);
    const coming = Array.from({ length: FUTURE_DAYS + 1 }, (_, i) => dayOf(nowMs + i * DAY_MS));
    const pastDays = `${LABELS.expiryDay},${LABELS.expiryDay} notin (${coming.join(',')})`;
    let removed = 0;
    for (const selector of [pastDays, `${LABELS.expiryDay}=${today}`]) {
      removed += await this.#gcList(selector, nowMs, pageSize, concurrency);
    }
    return removed;
  }

  async #gcList(labelSelector: string, nowMs: number, pageSize: number, concurrency: number): Promise<number> {
    let removed = 0;
    for (let restart = 0; ; restart++) {
      try {
        let token: string | undefined;
        do {
          const page = await this.resource.list({ labelSelector, limit: pageSize, continue: token });
          token = page.metadata.continue || undefined;
          const expired = page.items.filter((o) => isExpired(o, nowMs));
          for (let i = 0; i < expired.length; i += concurrency) {
            const results = await Promise.all(
              expired
                .slice(i, i + concurrency)
                .map((o) => this.resource.delete(o.metadata.name, o.metadata.resourceVersion)),
            );
            removed += results.filter(Boolean).length;
          }
        } while (token);
        return removed;
      } catch (error) {
        if (!(error instanceof ContinueExpiredError) || restart >= 3) throw error;
      }
    }
  }
}

const DAY_MS = 86_400_000;
/** Day buckets after today that gc excludes by label (longer-lived records are listed and kept). */
const FUTURE_DAYS = 400;

function expiryMs(object: KubeObject<ModelSpec>): number | undefined {
  const at = object.spec.expiresAt;
  if (!at) return undefined;
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? 0 : ms;
}

function isExpired(object: KubeObject<ModelSpec>, nowMs: number): boolean {
  return expiredAt(expiryMs(object), nowMs);
}

/** The payload as written, with jti restored and `consumed` (epoch seconds) once consumed. */
function decode(object: KubeObject<ModelSpec>, id: string | undefined): ModelPayload | undefined {
  let payload: ModelPayload;
  try {
    payload = JSON.parse(object.spec.payload) as ModelPayload;
  } catch {
    return undefined;
  }
  if (object.spec.jtiIsId) {
    if (id === undefined) return undefined;
    payload.jti = id;
  }
  if (object.spec.consumed && !payload.consumed) {
    const at = object.spec.consumedAt ? Date.parse(object.spec.consumedAt) : Date.now();
    payload.consumed = Math.floor((Number.isNaN(at) ? Date.now() : at) / 1000);
  }
  return payload;
}
