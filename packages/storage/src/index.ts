export * from './types.ts';
export { MemoryStore } from './memory.ts';
