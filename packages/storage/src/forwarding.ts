import type { ModelName, ModelStore, Store } from './types.ts';

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
