export { createMetrics } from './metrics.ts';
export type { IssuerMetrics, LoginResult, MetricsOptions } from './metrics.ts';
export { startTelemetryServer, parseListenAddress } from './server.ts';
export type { TelemetryOptions, TelemetryServer } from './server.ts';
