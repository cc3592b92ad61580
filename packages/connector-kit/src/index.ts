export * from './types.ts';
export * from './errors.ts';
export * from './define.ts';
export * from './schema.ts';
export * from './callback.ts';
export * from './constant-time.ts';
export * from './pkce.ts';
export * from './http/index.ts';
/** The zod the kit's schema helpers are built with: a connector's schema composes with them only on the same instance. */
export { z } from 'zod';
/** Go-style durations (as Dex's config files write them) and the record guard, shared with the issuer. */
export { isRecord, parseDuration, parseDurationMs } from '@gatehouse/common';
