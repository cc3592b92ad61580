/**
 * The `storage` section of the issuer's config (Dex's `storage: {type, config}`), as the issuer
 * validates it and `openStore` takes it. The issuer's config loader checks the YAML against these
 * types; this package owns them because it is what opens the backends.
 */

export interface SqliteStorageConfig {
  /** Relative paths are resolved against the config file's folder; `:memory:` is kept as is. */
  file: string;
}

export interface KubernetesStorageConfig {
  inCluster: boolean;
  kubeConfigFile?: string;
  namespace?: string;
}

/** Dex's `postgres` keys (storage/sql/config.go); durations in seconds. Opened by @gatehouse/storage-postgres. */
export interface PostgresStorageConfig {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  ssl?: {
    /** `disable`, `require`, `verify-ca`, `verify-full` (Dex's default when unset). */
    mode?: 'disable' | 'require' | 'verify-ca' | 'verify-full';
    caFile?: string;
    certFile?: string;
    keyFile?: string;
  };
  connectionTimeout?: number;
  maxOpenConns?: number;
  maxIdleConns?: number;
  connMaxLifetime?: number;
}

export type StorageConfig =
  | { type: 'memory'; config: Record<string, never> }
  | { type: 'sqlite3'; config: SqliteStorageConfig }
  | { type: 'kubernetes'; config: KubernetesStorageConfig }
  | { type: 'postgres'; config: PostgresStorageConfig };

export type StorageType = StorageConfig['type'];

export const STORAGE_TYPES: readonly StorageType[] = ['memory', 'sqlite3', 'kubernetes', 'postgres'];

/** Other names a config may use: Dex spells SQLite `sqlite3`, and `sqlite` is accepted too. */
const ALIASES: ReadonlyMap<string, StorageType> = new Map([['sqlite', 'sqlite3']]);

/** The storage type `name` denotes (aliases resolved), or undefined when it is none of ours. */
export function storageType(name: string): StorageType | undefined {
  return (STORAGE_TYPES as readonly string[]).includes(name) ? (name as StorageType) : ALIASES.get(name);
}
