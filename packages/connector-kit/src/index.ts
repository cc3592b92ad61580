export * from './types.ts';
export * from './errors.ts';
export * from './define.ts';
export * from './schema.ts';
