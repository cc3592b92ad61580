export { loadConfig, loadConfigFile } from './load.ts';
export type { ConfigOverrides, LoadConfigOptions } from './load.ts';
export { parseDuration } from './duration.ts';
export type * from './types.ts';
