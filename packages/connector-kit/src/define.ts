import type { ZodType } from 'zod';
import { CONNECTOR_KIT_VERSION } from './types.ts';
import type { Connector, ConnectorContext, ConnectorFactory } from './types.ts';

/** What a connector author writes; `defineConnector` adds the kit version. */
export interface ConnectorDefinition<Config> {
  /** The name used in `connectors[].type` (Dex's name for built-in kinds). Letters, digits, `-`, `_`, `.`, `/`, `@`. */
  type: string;
  /** Validates the `config` block; parse output (defaults applied) is what `open` receives. */
  configSchema: ZodType<Config>;
  /** Start-up messages for settings that parse but cannot be enforced as written. */
  warnings?(config: Config): string[];
  open(id: string, config: Config, context: ConnectorContext): Promise<Connector> | Connector;
}

const TYPE_NAME = /^[A-Za-z@][A-Za-z0-9@/._-]*$/;

/**
 * Builds a `ConnectorFactory` stamped with the kit version this package was built against,
 * so the issuer can refuse a connector from an incompatible kit.
 */
export function defineConnector<Config>(definition: ConnectorDefinition<Config>): ConnectorFactory<Config> {
  if (!TYPE_NAME.test(definition.type)) {
    throw new TypeError(`connector type ${JSON.stringify(definition.type)} is not a valid type name`);
  }
  const factory: ConnectorFactory<Config> = {
    type: definition.type,
    kitVersion: CONNECTOR_KIT_VERSION,
    configSchema: definition.configSchema,
    open: definition.open,
    ...(definition.warnings ? { warnings: definition.warnings } : {}),
  };
  return Object.freeze(factory);
}

function major(version: string): number | undefined {
  const m = /^(\d+)\.\d+\.\d+/.exec(version);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** True when a connector built against `kitVersion` can be loaded by this kit (same major version). */
export function isCompatibleKitVersion(kitVersion: unknown): boolean {
  if (typeof kitVersion !== 'string') return false;
  const theirs = major(kitVersion);
  return theirs !== undefined && theirs === major(CONNECTOR_KIT_VERSION);
}

/** One config problem, with the path of the offending key inside the connector's `config` block. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export type ParsedConnectorConfig<Config> = { ok: true; config: Config } | { ok: false; issues: ConfigIssue[] };

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Validates a connector's `config` block, returning every issue with its key path (relative to `config`). */
export function parseConnectorConfig<Config>(
  factory: ConnectorFactory<Config>,
  raw: unknown,
): ParsedConnectorConfig<Config> {
  const result = factory.configSchema.safeParse(raw ?? {});
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  };
}
