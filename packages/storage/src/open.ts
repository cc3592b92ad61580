/** Opens the Store named by the issuer's `storage` config section (Dex's `storage: {type, config}`). */
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { MemoryStore } from './memory.ts';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import { storageType, type KubernetesStorageConfig, type PostgresStorageConfig, type StorageConfig } from './config.ts';
import { StoreError, type Store } from './types.ts';

/** What `@gatehouse/storage-kubernetes` must export. */
export interface KubernetesStoreModule {
  openKubernetesStore(config: KubernetesStorageConfig): Promise<Store>;
}

/** What `@gatehouse/storage-postgres` must export. */
export interface PostgresStoreModule {
  openPostgresStore(config: PostgresStorageConfig): Promise<Store>;
}

export interface OpenStoreOptions {
  /** Relative SQLite paths are resolved against this folder (the config file's). Default: cwd. */
  baseDir?: string;
  sqlite?: SqliteStoreOptions;
  /** Loads the Kubernetes backend; default: a dynamic import of `@gatehouse/storage-kubernetes`. */
  loadKubernetes?: () => Promise<KubernetesStoreModule>;
  /** Loads the PostgreSQL backend; default: a dynamic import of `@gatehouse/storage-postgres`. */
  loadPostgres?: () => Promise<PostgresStoreModule>;
}

const KUBERNETES_PACKAGE = '@gatehouse/storage-kubernetes';
const POSTGRES_PACKAGE = '@gatehouse/storage-postgres';

export async function openStore(config: StorageConfig, options: OpenStoreOptions = {}): Promise<Store> {
  // Callers outside the issuer's loader may still name an alias (`sqlite`).
  const type = storageType(config.type);
  if (type !== undefined && type !== config.type) config = { ...config, type } as StorageConfig;
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite3':
      return new SqliteStore(sqliteFile(config.config.file, options.baseDir), options.sqlite);
    case 'kubernetes': {
      const mod = await (
        options.loadKubernetes ?? (() => loadPackage<KubernetesStoreModule>(KUBERNETES_PACKAGE, 'kubernetes'))
      )();
      if (typeof mod?.openKubernetesStore !== 'function') {
        throw new StoreError('invalid', `${KUBERNETES_PACKAGE} does not export openKubernetesStore`);
      }
      return mod.openKubernetesStore(config.config);
    }
    case 'postgres': {
      const mod = await (
        options.loadPostgres ?? (() => loadPackage<PostgresStoreModule>(POSTGRES_PACKAGE, 'postgres'))
      )();
      if (typeof mod?.openPostgresStore !== 'function') {
        throw new StoreError('invalid', `${POSTGRES_PACKAGE} does not export openPostgresStore`);
      }
      return mod.openPostgresStore(config.config);
    }
    default: {
      const type = (config as { type?: unknown }).type;
      throw new StoreError(
        'invalid',
        `unknown storage type ${JSON.stringify(type)} (memory, sqlite3, kubernetes, postgres)`,
      );
    }
  }
}

/** The absolute database path, with its parent folder created. */
function sqliteFile(file: string, baseDir: string | undefined): string {
  if (typeof file !== 'string' || file.length === 0)
    throw new StoreError('invalid', 'storage.config.file is required for sqlite3');
  if (file === ':memory:') return file;
  const path = isAbsolute(file) ? file : resolve(baseDir ?? process.cwd(), file);
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (cause) {
    throw new StoreError(
      'unavailable',
      `cannot create the folder for SQLite store ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return path;
}

/**
 * storage-kubernetes and storage-postgres are optional and not dependencies of this package (each
 * brings a heavy driver): the application that wants one (the issuer) depends on it and passes
 * `loadKubernetes` / `loadPostgres`; this default only works where the package happens to be
 * resolvable from here.
 */
async function loadPackage<T>(specifier: string, type: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new StoreError('unavailable', `storage type ${type} needs the ${specifier} package installed`, { cause });
    }
    throw new StoreError('unavailable', `cannot load ${specifier}: ${(cause as Error).message}`, { cause });
  }
}
