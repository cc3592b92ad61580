/**
 * What the section rules (sections/*.ts) share: the context they report into and defensive
 * readers of the raw file. Rules read the raw (key-checked, `$VAR`-expanded) data rather than the
 * zod output so that they run even when some other value is malformed: every problem is reported
 * in one pass. Messages never quote a secret value (client secrets, password hashes, connector
 * configs).
 */
import path from 'node:path';
import { isRecord } from '@gatehouse/common';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import type { ConfigIssue } from './types.ts';

export interface RuleContext {
  env: NodeJS.ProcessEnv;
  /** Folder relative file paths are resolved against (the config file's). */
  baseDir: string;
  registry: ConnectorRegistry;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** A mapping of the raw file. */
export type Raw = Record<string, unknown>;

export function str(o: Raw | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function rec(o: Raw | undefined, key: string): Raw | undefined {
  const v = o?.[key];
  return isRecord(v) ? v : undefined;
}

export function arr(o: Raw | undefined, key: string): unknown[] {
  const v = o?.[key];
  return Array.isArray(v) ? v : [];
}

export function resolveFile(baseDir: string, file: string): string {
  return file === ':memory:' ? file : path.resolve(baseDir, file);
}

/** The value of `name` (an `idEnv`, `secretEnv`, `hashFromEnv`), or an error at `at` when unset. */
export function envValue(ctx: RuleContext, name: string, at: string): string | undefined {
  const v = ctx.env[name];
  if (v === undefined || v === '') {
    ctx.errors.push({ path: at, message: `environment variable ${name} is not set` });
    return undefined;
  }
  return v;
}
