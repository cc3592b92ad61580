export * from './types.ts';
export { MemoryStore } from './memory.ts';
export { SqliteStore, SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from './sqlite.ts';
export { openStore, type OpenStoreOptions, type KubernetesStoreModule, type PostgresStoreModule } from './open.ts';
export {
  STORAGE_TYPES,
  storageType,
  type StorageConfig,
  type StorageType,
  type SqliteStorageConfig,
  type KubernetesStorageConfig,
  type PostgresStorageConfig,
} from './config.ts';
export { ForwardingModelStore, ForwardingStore } from './forwarding.ts';
