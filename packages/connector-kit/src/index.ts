export * from './types.ts';
export * from './errors.ts';
export * from './define.ts';
export * from './schema.ts';
export * from './callback.ts';
export * from './constant-time.ts';
export * from './pkce.ts';
export * from './http/index.ts';
