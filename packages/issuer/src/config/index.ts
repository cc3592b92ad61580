export { loadConfig, loadConfigFile } from './load.ts';
export type { ConfigOverrides, LoadConfigOptions } from './load.ts';
export { configDefaults } from './defaults.ts';
export { parseDuration } from '@gatehouse/common';
export type * from './types.ts';
