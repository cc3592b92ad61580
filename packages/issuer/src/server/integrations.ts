/** The issuer's links to the store backends, logging and telemetry modules. */
import { openStore, type Store } from '@gatehouse/storage';
import type { IssuerConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../logging.ts';
import { createMetrics, startTelemetryServer, type IssuerMetrics as PromMetrics } from '../telemetry/index.ts';
import type { IssuerMetrics } from './metrics.ts';

export async function openIssuerStore(config: IssuerConfig, baseDir: string, logger?: Logger): Promise<Store> {
  // The Kubernetes and PostgreSQL backends are dependencies of the issuer, not of @gatehouse/storage.
  return openStore(config.storage, {
    baseDir,
    loadKubernetes: () => import('@gatehouse/storage-kubernetes'),
    loadPostgres: async () => {
      const { openPostgresStore } = await import('@gatehouse/storage-postgres');
      return { openPostgresStore: (c) => openPostgresStore(c, logger ? { logger } : {}) };
    },
  });
}

export async function issuerLogger(config: IssuerConfig): Promise<Logger> {
  return createLogger(config.logger);
}

export function issuerMetrics(): { metrics: IssuerMetrics; prom: PromMetrics } {
  const prom = createMetrics();
  return {
    prom,
    metrics: {
      // The counter's results are success | failure | error; a throttled attempt is a failure.
      login: (connector, result) => prom.recordLogin(connector, result === 'throttled' ? 'failure' : result),
      tokenIssued: (grantType) => prom.recordTokenIssued(grantType),
    },
  };
}

export async function openTelemetry(
  address: string,
  ready: () => Promise<void>,
  prom: PromMetrics,
  logger: Logger,
): Promise<{ url: string; close(): Promise<void> }> {
  return startTelemetryServer(address, { ready, registry: prom.registry, logger });
}
