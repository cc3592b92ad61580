export * from './types.ts';
export { MemoryStore } from './memory.ts';
export { SqliteStore, SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from './sqlite.ts';
export { openStore, type StorageConfig, type OpenStoreOptions, type KubernetesStoreModule } from './open.ts';
export { ForwardingStore } from './forwarding.ts';
