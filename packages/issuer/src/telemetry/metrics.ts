/**
 * The issuer's Prometheus metrics, on a registry of their own (not prom-client's global one), so
 * several issuers in one process (tests) do not collide. Dex has no domain metrics; these are ours.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export type LoginResult = 'success' | 'failure' | 'error';

export interface IssuerMetrics {
  readonly registry: Registry;
  /** Finished logins per connector: `success`, `failure` (wrong credentials, denied) or `error`. */
  readonly logins: Counter<'connector' | 'result'>;
  /** Tokens issued at the token endpoint, per grant type. */
  readonly tokensIssued: Counter<'grant_type'>;
  recordLogin(connector: string, result: LoginResult): void;
  recordTokenIssued(grantType: string): void;
}

export interface MetricsOptions {
  /** Reported as `gatehouse_build_info{version}`. */
  version?: string;
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): IssuerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Finished logins by connector and result (success, failure, error).',
    labelNames: ['connector', 'result'] as const,
    registers: [registry],
  });
  const tokensIssued = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Token responses issued by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const buildInfo = new Gauge({
    name: 'gatehouse_build_info',
    help: 'Gatehouse version and Node.js version; always 1.',
    labelNames: ['version', 'node_version'] as const,
    registers: [registry],
  });
  buildInfo.set({ version: options.version ?? 'dev', node_version: process.versions.node }, 1);
  return {
    registry,
    logins,
    tokensIssued,
    recordLogin: (connector, result) => logins.inc({ connector, result }),
    recordTokenIssued: (grantType) => tokensIssued.inc({ grant_type: grantType }),
  };
}
