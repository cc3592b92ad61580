/**
 * Maps a connector `type` to its factory. Built-in packages are imported lazily, so the issuer
 * starts without the ones it does not use; a `type` that is an npm package name
 * (`@acme/gatehouse-connector-okta`, `gatehouse-connector-x`) is imported as a third-party
 * connector. Every factory must be built against the same major `CONNECTOR_KIT_VERSION`.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CONNECTOR_KIT_VERSION,
  ConnectorError,
  ConnectorErrorCodes,
  isCompatibleKitVersion,
  parseConnectorConfig,
} from '@gatehouse/connector-kit';
import type { Connector, ConnectorContext, ConnectorFactory } from '@gatehouse/connector-kit';
import type { ConnectorConfig } from '../config/types.ts';
import { localFactory } from './local.ts';
import { mockCallbackFactory, mockPasswordFactory } from './mock.ts';
import type { LocalConnectorContext } from './local.ts';

/** Built-in connector packages by Dex type name. */
export const BUILTIN_PACKAGES: Readonly<Record<string, string>> = {
  microsoft: '@gatehouse/connector-microsoft',
  github: '@gatehouse/connector-github',
  ldap: '@gatehouse/connector-ldap',
};

/** Connectors that live inside the issuer. */
export const IN_PROCESS_FACTORIES: readonly ConnectorFactory[] = [
  localFactory as ConnectorFactory,
  mockCallbackFactory as ConnectorFactory,
  mockPasswordFactory as ConnectorFactory,
];

/** Dex connector types Gatehouse has no built-in for (named in the error message). */
const DEX_ONLY_CONNECTOR_TYPES: readonly string[] = [
  'oidc',
  'saml',
  'gitlab',
  'google',
  'keystone',
  'authproxy',
  'bitbucket-cloud',
  'openshift',
  'atlassian-crowd',
  'gitea',
  'linkedin',
  'oauth',
];

/** Scoped packages, and unscoped ones that say they are Gatehouse connectors. */
const THIRD_PARTY = /^(@[a-z0-9][a-z0-9._~-]*\/[a-z0-9][a-z0-9._~-]*|gatehouse-connector-[a-z0-9._~-]+)$/;

export const RegistryErrorCodes = {
  UnknownType: 'unknown_type',
  NotInstalled: 'not_installed',
  ImportFailed: 'import_failed',
  NotAFactory: 'not_a_factory',
  KitVersionMismatch: 'kit_version_mismatch',
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCodes)[keyof typeof RegistryErrorCodes];

export class ConnectorRegistryError extends Error {
  readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectorRegistryError';
    this.code = code;
  }
}

export interface OpenedConnector {
  id: string;
  type: string;
  name: string;
  connector: Connector;
}

/** What `openConnectors` hands every factory; the `local` connector also needs the store. */
export type OpenConnectorsContext = ConnectorContext & Partial<Omit<LocalConnectorContext, keyof ConnectorContext>>;

export interface ConnectorRegistry {
  /** The factory for `type`; throws `ConnectorRegistryError`. Results are cached. */
  resolve(type: string): Promise<ConnectorFactory>;
  /** Type names known without importing anything (built-ins, in-process, extras). */
  knownTypes(): string[];
  /**
   * Validates each config with its factory's schema (reporting all of a connector's issues),
   * logs the factory's config warnings, and opens it. Fails (closing the ones already opened) on
   * the first connector that cannot be opened.
   */
  openConnectors(configs: readonly ConnectorConfig[], context: OpenConnectorsContext): Promise<OpenedConnector[]>;
}

export interface RegistryOptions {
  /** Folders to resolve third-party connector packages from, after the issuer's own. Default: cwd. */
  searchPaths?: string[];
  /** Replaces dynamic `import()` (tests). */
  importer?: (specifier: string) => Promise<unknown>;
}

function isFactory(x: unknown): x is ConnectorFactory {
  if (x === null || typeof x !== 'object') return false;
  const f = x as Record<string, unknown>;
  const schema = f['configSchema'] as { safeParse?: unknown } | undefined;
  return (
    typeof f['type'] === 'string' &&
    typeof f['kitVersion'] === 'string' &&
    typeof f['open'] === 'function' &&
    schema !== undefined &&
    schema !== null &&
    typeof schema.safeParse === 'function'
  );
}

/** Refuses factories built against another major version of the connector kit. */
export function checkKitVersion(factory: ConnectorFactory, source: string): void {
  if (!isCompatibleKitVersion(factory.kitVersion)) {
    throw new ConnectorRegistryError(
      RegistryErrorCodes.KitVersionMismatch,
      `${source} was built for connector kit ${factory.kitVersion}, but this issuer provides ${CONNECTOR_KIT_VERSION} ` +
        `(major versions must match)`,
    );
  }
}

function isModuleNotFound(e: unknown, specifier: string): boolean {
  const err = e as { code?: string; message?: string };
  return (
    (err.code === 'ERR_MODULE_NOT_FOUND' ||
      err.code === 'MODULE_NOT_FOUND' ||
      err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') &&
    typeof err.message === 'string' &&
    err.message.includes(specifier)
  );
}

export function createRegistry(
  extra: readonly ConnectorFactory[] = [],
  options: RegistryOptions = {},
): ConnectorRegistry {
  const importer = options.importer ?? ((s: string) => import(s));
  const searchPaths = options.searchPaths ?? [process.cwd()];
  const inProcess = new Map<string, ConnectorFactory>();
  for (const f of [...IN_PROCESS_FACTORIES, ...extra]) {
    checkKitVersion(f, `connector factory "${f.type}"`);
    inProcess.set(f.type, f);
  }
  const cache = new Map<string, Promise<ConnectorFactory>>();

  async function importPackage(specifier: string): Promise<unknown> {
    try {
      return await importer(specifier);
    } catch (e) {
      if (!isModuleNotFound(e, specifier)) throw e;
      // Not installed beside the issuer: try the configured folders (plugins next to the config).
      for (const dir of searchPaths) {
        let resolved: string;
        try {
          resolved = createRequire(path.join(path.resolve(dir), 'noop.js')).resolve(specifier);
        } catch {
          continue;
        }
        return importer(pathToFileURL(resolved).href);
      }
      throw e;
    }
  }

  async function load(type: string, specifier: string): Promise<ConnectorFactory> {
    let mod: unknown;
    try {
      mod = await importPackage(specifier);
    } catch (e) {
      if (isModuleNotFound(e, specifier)) {
        throw new ConnectorRegistryError(
          RegistryErrorCodes.NotInstalled,
          `connector type "${type}" needs the package ${specifier}, which is not installed`,
          { cause: e },
        );
      }
      throw new ConnectorRegistryError(
        RegistryErrorCodes.ImportFailed,
        `could not load ${specifier}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const m = (mod ?? {}) as Record<string, unknown>;
    const candidate = isFactory(m['default']) ? m['default'] : isFactory(m['factory']) ? m['factory'] : undefined;
    if (candidate === undefined) {
      throw new ConnectorRegistryError(
        RegistryErrorCodes.NotAFactory,
        `${specifier} does not export a connector factory (default export or named "factory" with type, kitVersion, configSchema and open)`,
      );
    }
    checkKitVersion(candidate, specifier);
    return candidate;
  }

  async function resolve(type: string): Promise<ConnectorFactory> {
    const local = inProcess.get(type);
    if (local !== undefined) return local;
    const specifier = BUILTIN_PACKAGES[type] ?? (THIRD_PARTY.test(type) ? type : undefined);
    if (specifier === undefined) {
      const known = [...inProcess.keys(), ...Object.keys(BUILTIN_PACKAGES)].filter((t) => t !== 'local').sort();
      const what = DEX_ONLY_CONNECTOR_TYPES.includes(type)
        ? `Dex's "${type}" connector is not implemented in Gatehouse`
        : `unknown connector type "${type}"`;
      throw new ConnectorRegistryError(
        RegistryErrorCodes.UnknownType,
        `${what}; built-in types are ${known.join(', ')}, ` +
          `and a third-party connector is named by its npm package (e.g. "@acme/gatehouse-connector-x")`,
      );
    }
    let pending = cache.get(type);
    if (pending === undefined) {
      pending = load(type, specifier);
      cache.set(type, pending);
      // A failed import may succeed later (package installed meanwhile); do not cache failures.
      pending.catch(() => cache.delete(type));
    }
    return pending;
  }

  async function openConnectors(
    configs: readonly ConnectorConfig[],
    context: OpenConnectorsContext,
  ): Promise<OpenedConnector[]> {
    const opened: OpenedConnector[] = [];
    try {
      for (const c of configs) {
        const factory = await resolve(c.type);
        const parsed = parseConnectorConfig(factory, c.config ?? {});
        if (!parsed.ok) {
          // Every issue at once, each with its key path (`key` is the first, for callers that show one).
          const all = parsed.issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ');
          throw new ConnectorError(
            ConnectorErrorCodes.InvalidConfiguration,
            `connector "${c.id}": invalid config: ${all || 'invalid'}`,
            {
              key: parsed.issues[0]?.path ?? '',
            },
          );
        }
        const logger = context.logger.child({ connector: c.id });
        // Settings that parse but weaken something: told at every start (and for run-time connectors).
        for (const warning of factory.warnings?.(parsed.config) ?? [])
          logger.warn({ type: c.type, warning }, 'connector config warning');
        const connector = await factory.open(c.id, parsed.config, { ...context, logger });
        opened.push({ id: c.id, type: c.type, name: c.name, connector });
      }
    } catch (e) {
      await Promise.allSettled(opened.map(async (o) => o.connector.close?.()));
      throw e;
    }
    return opened;
  }

  return {
    resolve,
    knownTypes: () => [...new Set([...inProcess.keys(), ...Object.keys(BUILTIN_PACKAGES)])],
    openConnectors,
  };
}
