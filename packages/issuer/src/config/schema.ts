/**
 * The issuer's config file: one zod schema per section (sections/*.ts), composed here. Key names
 * follow Dex so a Dex user can bring their file; Gatehouse additions are marked "Gatehouse:" in
 * the sections. The schemas check each value's type and format and hold every default; rules
 * that span keys or need the environment run beside them (rules.ts). `IssuerConfig`, the loaded
 * configuration, is derived from these schemas.
 */
import { z } from 'zod';
import type { StorageConfig } from '@gatehouse/storage';
import { connectorSchema, type ConnectorConfig } from './sections/connectors.ts';
import { staticClientSchema, type StaticClient } from './sections/clients.ts';
import { expirySchema } from './sections/expiry.ts';
import { frontendSchema } from './sections/frontend.ts';
import { issuerSchema } from './sections/issuer.ts';
import { loggerSchema } from './sections/logger.ts';
import { oauth2Schema, type OAuth2Config } from './sections/oauth2.ts';
import { enablePasswordDBSchema, staticPasswordSchema, type StaticPassword } from './sections/passwords.ts';
import { signerSchema, type SignerConfig } from './sections/signer.ts';
import { storageSchema } from './sections/storage.ts';
import { telemetrySchema } from './sections/telemetry.ts';
import { webSchema } from './sections/web.ts';

export const configSchema = z.object({
  issuer: issuerSchema,
  storage: storageSchema,
  web: webSchema.prefault({}),
  telemetry: telemetrySchema.prefault({}),
  frontend: frontendSchema.prefault({}),
  expiry: expirySchema.prefault({}),
  oauth2: oauth2Schema.prefault({}),
  signer: signerSchema.prefault({}),
  staticClients: z.array(staticClientSchema).default([]),
  connectors: z.array(connectorSchema).default([]),
  enablePasswordDB: enablePasswordDBSchema,
  staticPasswords: z.array(staticPasswordSchema).default([]),
  logger: loggerSchema.prefault({}),
});

/** The file after the schemas: values typed and defaulted, before the rules resolved the rest. */
export type ParsedConfig = z.output<typeof configSchema>;

/** The sections whose runtime value the rules finish (rules.ts); the others are the schema output. */
type Finished = 'storage' | 'oauth2' | 'signer' | 'staticClients' | 'connectors' | 'staticPasswords';

/**
 * The issuer's configuration after loading and validation (`loadConfig`): durations are seconds,
 * `idEnv`/`secretEnv`/`hashFromEnv` are resolved, file paths absolute, `$VAR` expanded where Dex
 * does it, defaults applied.
 */
export interface IssuerConfig extends Omit<ParsedConfig, Finished> {
  storage: StorageConfig;
  oauth2: OAuth2Config;
  signer: SignerConfig;
  staticClients: StaticClient[];
  connectors: ConnectorConfig[];
  staticPasswords: StaticPassword[];
}
