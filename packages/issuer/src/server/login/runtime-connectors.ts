/**
 * Connectors managed at run time (`store.connectors`, e.g. `kubectl apply` with the Kubernetes
 * backend), next to the configured ones. Configured connectors win on an id collision and are
 * never replaced. With a backend that can watch, an applied connector is opened at once and a
 * deleted one is closed; otherwise the records present at start are opened.
 */
import type { ConnectorRecord, RecordStore } from '@gatehouse/storage';
import type { ConnectorRegistry, OpenConnectorsContext } from '../../connectors/index.ts';
import type { IssuerConnector } from '../grants/accounts.ts';

export interface RuntimeConnectorsOptions {
  registry: ConnectorRegistry;
  records: RecordStore<ConnectorRecord>;
  context: OpenConnectorsContext;
  /** The live map every route reads; runtime connectors are added to and removed from it. */
  connectors: Map<string, IssuerConnector>;
  logger: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

export class RuntimeConnectors {
  readonly #o: RuntimeConnectorsOptions;
  readonly #configured: Set<string>;
  readonly #runtime = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #unwatch: (() => void) | undefined;
  #closed = false;

  constructor(options: RuntimeConnectorsOptions) {
    this.#o = options;
    this.#configured = new Set(options.connectors.keys());
  }

  async start(): Promise<void> {
    if (this.#o.records.watch) {
      this.#unwatch = this.#o.records.watch((event) => {
        this.#enqueue(() => (event.type === 'upsert' ? this.#open(event.record) : this.#remove(event.id)));
      });
    }
    for (const record of await this.#o.records.list()) this.#enqueue(() => this.#open(record));
    await this.#queue;
  }

  /** Resolves when every change seen so far has been applied (tests). */
  settled(): Promise<void> {
    return this.#queue;
  }

  #enqueue(step: () => Promise<void>): void {
    this.#queue = this.#queue.then(step).catch((err: unknown) => {
      this.#o.logger.warn({ err: (err as Error).message }, 'run-time connector change failed');
    });
  }

  async #open(record: ConnectorRecord): Promise<void> {
    if (this.#closed) return;
    if (this.#configured.has(record.id)) {
      this.#o.logger.warn({ connector: record.id }, 'run-time connector ignored: a configured connector has this id');
      return;
    }
    let opened;
    try {
      [opened] = await this.#o.registry.openConnectors([record], this.#o.context);
    } catch (err) {
      this.#o.logger.warn(
        { connector: record.id, err: (err as Error).message },
        'run-time connector could not be opened',
      );
      return;
    }
    if (!opened) return;
    const previous = this.#runtime.has(record.id) ? this.#o.connectors.get(record.id) : undefined;
    this.#o.connectors.set(record.id, opened);
    this.#runtime.add(record.id);
    await previous?.connector.close?.();
    this.#o.logger.info({ connector: record.id, type: record.type }, 'run-time connector opened');
  }

  async #remove(id: string): Promise<void> {
    if (!this.#runtime.has(id)) return;
    const previous = this.#o.connectors.get(id);
    this.#o.connectors.delete(id);
    this.#runtime.delete(id);
    await previous?.connector.close?.();
    this.#o.logger.info({ connector: id }, 'run-time connector removed');
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unwatch?.();
    await this.#queue;
    for (const id of [...this.#runtime]) await this.#remove(id);
  }
}
