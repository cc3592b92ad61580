/**
 * Refresh-token rotation with Dex's reuse window, as ONE token family.
 *
 * oidc-provider rotates a refresh token by consuming it and saving a new one. A client that lost
 * the response may present the rotated token again within `reuseInterval`; minting a second
 * successor then would fork the family into two live chains (a thief holding the old token keeps
 * a chain nobody can detect). Instead:
 * - the winner of `consume` saves the successor and links it from the predecessor's record;
 * - a reuse inside the window (sequential or racing) gets that SAME successor (following the
 *   chain when the successor was itself rotated meanwhile), never a new one;
 * - outside the window oidc-provider sees the consumed token and revokes the whole grant.
 *
 * The link is the successor's value encrypted (AES-256-GCM) under a key derived from the
 * predecessor's value, so the store (which keeps only hashes of token ids) never holds a
 * usable token, and only a caller presenting the predecessor can read it.
 *
 * The link is written from the predecessor's payload as the adapter read it at the start of the
 * request (`noteRead`) plus `consumed`, not from a second read after `consume`: one
 * API round-trip less per refresh on the Kubernetes store. The payload cannot have changed in
 * between except through `consume` itself (only the winner of `consume` links, and nothing else
 * updates a refresh token); `consumed` is taken just before `consume`, so it is at most as late
 * as the store's own time and the reuse window never grows. The RefreshToken model stays out of
 * the request cache: `successorOf` must see a racing winner's link when it re-reads.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import type { ModelPayload, ModelStore, Store } from '@gatehouse/storage';
import type { RefreshPolicy } from './refresh-policy.ts';

export const SUCCESSOR_FIELD = 'gatehouseSuccessor';

export interface RefreshRotationOptions {
  store: Store;
  /** The reuse window (`reuseInterval`, 0 = any reuse is a replay) and the clock. */
  policy: RefreshPolicy;
  /** How long a racing reuse waits for the winner to record the successor (ms). */
  waitMs?: number;
}

export type RotationState =
  { kind: 'rotated'; predecessor: string; consumedAt: number } | { kind: 'reused'; successor: string };

/** What one request (oidc-provider's koa context) knows of the rotation. */
interface InRequest {
  /** The RefreshToken payloads the adapter read (as stored, `consumed` included). */
  reads: Map<string, ModelPayload>;
  /** What `consume` decided, for the `save` of the successor. */
  state?: RotationState;
}

function linkKey(predecessor: string): Buffer {
  return createHash('sha256').update('gatehouse refresh successor\0').update(predecessor, 'utf8').digest();
}

export function sealSuccessor(predecessor: string, successor: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', linkKey(predecessor), iv);
  const body = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function openSuccessor(predecessor: string, sealed: unknown): string | undefined {
  if (typeof sealed !== 'string' || sealed.length > 1024) return undefined;
  try {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < 29) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', linkKey(predecessor), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The token family's rules; oidc/patches/refresh-token-rotation.ts puts them in oidc-provider's RefreshToken. */
export class Rotation {
  readonly #model: ModelStore;
  readonly #o: RefreshRotationOptions;
  readonly #policy: RefreshPolicy;
  readonly #requests = new WeakMap<object, InRequest>();

  constructor(options: RefreshRotationOptions) {
    this.#model = options.store.model('RefreshToken');
    this.#o = options;
    this.#policy = options.policy;
  }

  #inRequest(): InRequest | undefined {
    const ctx = Provider.ctx as object | undefined;
    if (!ctx) return undefined;
    let r = this.#requests.get(ctx);
    if (!r) this.#requests.set(ctx, (r = { reads: new Map() }));
    return r;
  }

  /** Called by the adapter for each RefreshToken it reads inside a provider request. */
  noteRead(id: string, payload: ModelPayload): void {
    this.#inRequest()?.reads.set(id, structuredClone(payload));
  }

  /** Keeps what `consume` decided for this request's `save`; `takeDecision` hands it over once. */
  noteDecision(state: RotationState): void {
    const r = this.#inRequest();
    if (r) r.state = state;
  }

  takeDecision(): RotationState | undefined {
    const r = this.#inRequest();
    const state = r?.state;
    if (r) delete r.state;
    return state;
  }

  #inWindow(payload: ModelPayload): boolean {
    return this.#policy.inReuseWindow(payload.consumed);
  }

  /** The live successor of a token rotated inside the window, or undefined (→ invalid_grant). */
  async successorOf(id: string): Promise<string | undefined> {
    const deadline = Date.now() + (this.#o.waitMs ?? Math.min(3000, this.#policy.reuseInterval * 1000));
    let current = id;
    // A chain longer than a few hops inside one window is not a client retrying.
    for (let hop = 0; hop < 8; hop++) {
      let payload = await this.#model.find(current);
      // A racing winner may not have recorded its successor yet.
      while (
        payload &&
        payload.consumed &&
        payload[SUCCESSOR_FIELD] === undefined &&
        this.#inWindow(payload) &&
        Date.now() < deadline
      ) {
        await sleep(25);
        payload = await this.#model.find(current);
      }
      if (!payload) return undefined;
      if (!payload.consumed) return current === id ? undefined : current;
      if (!this.#inWindow(payload)) return undefined;
      const next = openSuccessor(current, payload[SUCCESSOR_FIELD]);
      if (next === undefined) return undefined;
      current = next;
    }
    return undefined;
  }

  /** Records the successor in the predecessor's record (from its payload as read before consume). */
  async link(predecessor: string, successor: string, consumedAt: number): Promise<void> {
    const read = this.#inRequest()?.reads.get(predecessor);
    const payload = read && !read.consumed ? { ...read, consumed: consumedAt } : await this.#model.find(predecessor);
    if (!payload) return;
    const exp = typeof payload.exp === 'number' ? payload.exp - this.#policy.now() : undefined;
    await this.#model.upsert(
      predecessor,
      { ...payload, [SUCCESSOR_FIELD]: sealSuccessor(predecessor, successor) },
      exp === undefined ? undefined : Math.max(1, exp),
    );
  }

  async consume(id: string): Promise<RotationState> {
    // Taken before the store's consume, so never later than the time it records.
    const consumedAt = this.#policy.now();
    if (await this.#model.consume(id)) return { kind: 'rotated', predecessor: id, consumedAt };
    const successor = this.#policy.reuseInterval > 0 ? await this.successorOf(id) : undefined;
    if (successor === undefined) throw new errors.InvalidGrant('refresh token already used');
    return { kind: 'reused', successor };
  }
}
