/** The config's types: every section's is derived from its schema (sections/*.ts). */
import type { IssuerConfig } from './schema.ts';

export type { StorageConfig } from '@gatehouse/storage';
export type { IssuerConfig, ParsedConfig } from './schema.ts';
export type { WebConfig } from './sections/web.ts';
export type { TelemetryConfig } from './sections/telemetry.ts';
export type { FrontendConfig } from './sections/frontend.ts';
export type { ExpiryConfig } from './sections/expiry.ts';
export type { OAuth2Config } from './sections/oauth2.ts';
export type { SignerConfig, SigningAlgorithm } from './sections/signer.ts';
export type { StaticClient } from './sections/clients.ts';
export type { ConnectorConfig } from './sections/connectors.ts';
export type { StaticPassword } from './sections/passwords.ts';
export type { LoggerConfig } from './sections/logger.ts';

/** One problem found in a config file, with the key path it concerns (`staticClients[0].secret`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

export type ConfigResult =
  | { ok: true; config: IssuerConfig; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };
