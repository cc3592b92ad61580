import type { ModelName, ModelPayload, ModelStore, Store } from './types.ts';

/**
 * A Store that hands every call to `inner`: the base of decorators (the issuer's request cache and
 * sealing) so each overrides only the parts it changes.
 */
export class ForwardingStore implements Store {
  readonly inner: Store;

  constructor(inner: Store) {
    this.inner = inner;
  }

  get type(): string {
    return this.inner.type;
  }
  get keys(): Store['keys'] {
    return this.inner.keys;
  }
  get clients(): Store['clients'] {
    return this.inner.clients;
  }
  get connectors(): Store['connectors'] {
    return this.inner.connectors;
  }
  get offlineSessions(): Store['offlineSessions'] {
    return this.inner.offlineSessions;
  }
  get passwords(): Store['passwords'] {
    return this.inner.passwords;
  }
  model(name: ModelName): ModelStore {
    return this.inner.model(name);
  }
  gc(now?: Date): Promise<number> {
    return this.inner.gc(now);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A ModelStore that hands every call to `inner`: the base of per-model decorators (the issuer's
 * request cache and sealing), so each overrides only the calls it changes.
 */
export class ForwardingModelStore implements ModelStore {
  readonly inner: ModelStore;

  constructor(inner: ModelStore) {
    this.inner = inner;
  }

  upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    return this.inner.upsert(id, payload, expiresIn);
  }
  find(id: string): Promise<ModelPayload | undefined> {
    return this.inner.find(id);
  }
  findByUid(uid: string): Promise<ModelPayload | undefined> {
    return this.inner.findByUid(uid);
  }
  findByUserCode(userCode: string): Promise<ModelPayload | undefined> {
    return this.inner.findByUserCode(userCode);
  }
  consume(id: string): Promise<boolean> {
    return this.inner.consume(id);
  }
  destroy(id: string): Promise<void> {
    return this.inner.destroy(id);
  }
  revokeByGrantId(grantId: string): Promise<void> {
    return this.inner.revokeByGrantId(grantId);
  }
}
