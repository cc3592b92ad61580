/**
 * List-then-watch over one custom resource (clients, connectors), with client-node's Watch:
 * keeps a cache by object name, turns events into ChangeEvents for subscribers, reports
 * invalid objects (a log line and a `Valid=False` status condition) without ever throwing, and
 * reconnects with backoff when the API server goes away (relisting when its resourceVersion is
 * gone).
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { ChangeEvent } from '@gatehouse/storage';
import type { Logger } from 'pino';
import type { Parsed } from './record-stores.ts';
import type { KubeObject, Resource } from './resource.ts';

interface Entry<T> {
  key?: string;
  record?: T;
  /** JSON of the record, to skip status-only changes. */
  json?: string;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

class GoneError extends Error {}

export interface WatcherOptions<T> {
  resource: Resource;
  kc: KubeConfig;
  logger: Logger;
  keyOf(record: T): string;
  parse(spec: unknown): Parsed<T>;
  /** Server-side watch timeout; the watch is renewed from the last resourceVersion (default 20 s,
   * under client-node's 30 s inactivity bound, so a silently dead connection is noticed). */
  watchTimeoutSeconds?: number;
}

export class ResourceWatcher<T> {
  readonly #opts: WatcherOptions<T>;
  readonly #objects = new Map<string, Entry<T>>();
  readonly #listeners = new Set<(event: ChangeEvent<T>) => void>();
  #rv: string | undefined;
  #synced = false;
  #running = false;
  #stopped = false;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;

  constructor(options: WatcherOptions<T>) {
    this.#opts = options;
  }

  get synced(): boolean {
    return this.#synced && !this.#stopped;
  }

  /** Valid objects whose record key is `key`. */
  byKey(key: string): Array<{ name: string; record: T }> {
    const out: Array<{ name: string; record: T }> = [];
    for (const [name, entry] of this.#objects)
      if (entry.key === key && entry.record) out.push({ name, record: entry.record });
    return out;
  }

  subscribe(listener: (event: ChangeEvent<T>) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#running && !this.#stopped) {
      this.#running = true;
      void this.#run();
    }
    return () => {
      this.#listeners.delete(listener);
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#listeners.clear();
    this.#abort?.abort();
    this.#wake?.();
  }

  async #run(): Promise<void> {
    let backoff = 250;
    const log = this.#opts.logger;
    while (!this.#stopped) {
      try {
        if (this.#rv === undefined) await this.#relist();
        await this.#watchOnce();
        backoff = 250;
      } catch (error) {
        if (this.#stopped) break;
        if (error instanceof GoneError) {
          this.#rv = undefined;
          continue;
        }
        log.warn(
          { plural: this.#opts.resource.plural, err: describe(error), retryInMs: backoff },
          'kubernetes watch interrupted; reconnecting',
        );
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #relist(): Promise<void> {
    const { items, resourceVersion } = await this.#opts.resource.listAll();
    const seen = new Set<string>();
    for (const object of items) {
      seen.add(object.metadata.name);
      this.#apply('MODIFIED', object);
    }
    for (const name of [...this.#objects.keys()]) if (!seen.has(name)) this.#remove(name);
    this.#rv = resourceVersion;
    this.#synced = true;
  }

  #watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let gone = false;
      const watch = new Watch(this.#opts.kc);
      watch
        .watch(
          this.#opts.resource.path(),
          {
            resourceVersion: this.#rv,
            allowWatchBookmarks: true,
            timeoutSeconds: this.#opts.watchTimeoutSeconds ?? 20,
          },
          (type: string, object: KubeObject & { code?: number }) => {
            if (type === 'ERROR') {
              if (object?.code === 410) gone = true;
              return;
            }
            const rv = object?.metadata?.resourceVersion;
            if (type !== 'BOOKMARK') this.#apply(type, object);
            if (rv) this.#rv = rv;
          },
          (err: unknown) => {
            this.#abort = undefined;
            const status = (err as { statusCode?: number } | null)?.statusCode;
            if (gone || status === 410) reject(new GoneError('resourceVersion gone'));
            else if (err && !this.#stopped) reject(err instanceof Error ? err : new Error(String(err)));
            else resolve();
          },
        )
        .then((controller) => {
          this.#abort = controller;
          if (this.#stopped) controller.abort();
        }, reject);
    });
  }

  #apply(type: string, object: KubeObject): void {
    const name = object?.metadata?.name;
    if (!name) return;
    if (type === 'DELETED') {
      this.#remove(name);
      return;
    }
    const previous = this.#objects.get(name);
    const parsed = this.#opts.parse(object.spec);
    if (!parsed.ok) {
      this.#opts.logger.warn(
        { plural: this.#opts.resource.plural, name, reason: parsed.reason },
        'invalid custom resource ignored (see its Valid condition)',
      );
      this.#objects.set(name, {});
      if (previous?.key) this.#keyGone(previous.key);
      this.#ensureCondition(object, false, parsed.reason);
      return;
    }
    const key = this.#opts.keyOf(parsed.record);
    const json = JSON.stringify(parsed.record);
    this.#objects.set(name, { key, record: parsed.record, json });
    if (previous?.key && previous.key !== key) this.#keyGone(previous.key);
    if (previous?.json !== json) this.#emit({ type: 'upsert', record: parsed.record });
    this.#ensureCondition(object, true, 'accepted by gatehouse');
  }

  #remove(name: string): void {
    const previous = this.#objects.get(name);
    this.#objects.delete(name);
    if (previous?.key) this.#keyGone(previous.key);
  }

  /** A key lost its object: delete, unless another object still carries it. */
  #keyGone(key: string): void {
    const other = this.byKey(key)[0];
    this.#emit(other ? { type: 'upsert', record: other.record } : { type: 'delete', id: key });
  }

  #emit(event: ChangeEvent<T>): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#opts.logger.error({ err: describe(error) }, 'watch listener failed');
      }
    }
  }

  /** Writes the Valid condition through the status subresource when it changed. */
  #ensureCondition(object: KubeObject, valid: boolean, message: string): void {
    if (this.#stopped) return;
    const conditions = ((object.status?.conditions ?? []) as Condition[]).filter((c) => c && typeof c === 'object');
    const current = conditions.find((c) => c.type === 'Valid');
    const desired: Condition = {
      type: 'Valid',
      status: valid ? 'True' : 'False',
      reason: valid ? 'Accepted' : 'InvalidSpec',
      message: message.slice(0, 4000),
      lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...(object.metadata.generation !== undefined ? { observedGeneration: object.metadata.generation } : {}),
    };
    if (
      current &&
      current.status === desired.status &&
      current.reason === desired.reason &&
      current.message === desired.message &&
      current.observedGeneration === desired.observedGeneration
    ) {
      return;
    }
    if (current?.status === desired.status) desired.lastTransitionTime = current.lastTransitionTime;
    const next = [...conditions.filter((c) => c.type !== 'Valid'), desired];
    this.#opts.resource
      .mergePatch(object.metadata.name, { status: { conditions: next } }, 'status')
      .catch((error: unknown) => {
        this.#opts.logger.warn(
          { plural: this.#opts.resource.plural, name: object.metadata.name, err: describe(error) },
          'could not write the Valid condition',
        );
      });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
