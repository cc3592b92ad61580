/**
 * `storage`: Dex's `{type, config}`. The types and the `sqlite` alias belong to @gatehouse/storage
 * (which opens the backends); this file checks a file's section against them.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import {
  STORAGE_TYPES,
  storageType,
  type KubernetesStorageConfig,
  type PostgresStorageConfig,
  type SqliteStorageConfig,
  type StorageConfig,
} from '@gatehouse/storage';
import { closest, formatPath, parseChecked, type PathPart } from '../keys.ts';
import { type RuleContext, type Raw, rec, resolveFile, str } from '../context.ts';
import { DNS1123 } from '../values.ts';

export const storageSchema = z.object(
  {
    type: z.string({ error: 'required: one of memory, sqlite3, kubernetes, postgres' }),
    /** Checked per type below, after `$VAR` expansion. */
    config: z.record(z.string(), z.unknown()).optional(),
  },
  { error: 'required: a storage section with a type (memory, sqlite3, kubernetes or postgres)' },
);

const sqliteConfig = z.strictObject({ file: z.string().min(1).default('gatehouse.db') }) satisfies z.ZodType<
  SqliteStorageConfig,
  unknown
>;
const kubernetesConfig = z.strictObject({
  inCluster: z.boolean().default(false),
  kubeConfigFile: z.string().min(1).optional(),
  namespace: z.string().regex(DNS1123, { message: 'expected a Kubernetes namespace name' }).optional(),
}) satisfies z.ZodType<KubernetesStorageConfig, unknown>;
const memoryConfig = z.strictObject({});

/** A whole number, also as digits in a string (what a `$VAR` in the YAML expands to). */
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], {
      error: 'expected a whole number (durations in seconds, as in Dex)',
    })
    .pipe(z.number().int({ message: 'expected a whole number' }).min(min).max(max));

/** Dex's `postgres` keys (storage/sql/config.go); the durations are whole seconds, as in Dex. */
const postgresConfig = z.strictObject({
  host: z.string().min(1).optional(),
  port: wholeNumber(1, 65535).optional(),
  database: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  ssl: z
    .strictObject({
      mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .optional(),
  connectionTimeout: wholeNumber(0).optional(),
  maxOpenConns: wholeNumber(0).optional(),
  maxIdleConns: wholeNumber(0).optional(),
  connMaxLifetime: wholeNumber(0).optional(),
}) satisfies z.ZodType<PostgresStorageConfig, unknown>;

/** Dex storage types Gatehouse does not implement. */
const DEX_ONLY_STORAGE_TYPES: readonly string[] = ['etcd', 'mysql'];

/** The section as openStore takes it (file paths absolute), or undefined when it is wrong. */
export function checkStorage(file: Raw, ctx: RuleContext): StorageConfig | undefined {
  const storage = rec(file, 'storage');
  const type = str(storage, 'type');
  if (type === undefined) return undefined;
  const config = rec(storage, 'config') ?? {};
  const push = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) => {
    for (const i of issues)
      ctx.errors.push({ path: formatPath(['storage', 'config', ...(i.path as PathPart[])]), message: i.message });
  };
  switch (storageType(type)) {
    case 'memory': {
      const r = memoryConfig.safeParse(config);
      if (!r.success) push(r.error.issues);
      ctx.warnings.push({
        path: 'storage.type',
        message: 'memory storage loses every login, token and key on restart: use it for tests only',
      });
      return r.success ? { type: 'memory', config: {} } : undefined;
    }
    case 'sqlite3': {
      const r = sqliteConfig.safeParse(config);
      if (!r.success) return void push(r.error.issues);
      return { type: 'sqlite3', config: { file: resolveFile(ctx.baseDir, r.data.file) } };
    }
    case 'kubernetes': {
      const r = kubernetesConfig.safeParse(config);
      if (!r.success) return void push(r.error.issues);
      if (!r.data.inCluster && r.data.kubeConfigFile === undefined) {
        ctx.errors.push({
          path: 'storage.config',
          message: 'set inCluster: true (running in a pod) or kubeConfigFile',
        });
        return undefined;
      }
      const k: KubernetesStorageConfig = { inCluster: r.data.inCluster };
      if (r.data.kubeConfigFile !== undefined) k.kubeConfigFile = resolveFile(ctx.baseDir, r.data.kubeConfigFile);
      if (r.data.namespace !== undefined) k.namespace = r.data.namespace;
      return { type: 'kubernetes', config: k };
    }
    case 'postgres': {
      // Dex reads these keys case-insensitively: case-only misspellings are read with a warning.
      const r = parseChecked(config, postgresConfig, ctx.errors, ctx.warnings, ['storage', 'config']);
      if (r === undefined) return undefined;
      const { ssl, ...rest } = r.data;
      const files: NonNullable<typeof ssl> = { ...ssl };
      for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
        const file = ssl?.[key];
        if (file === undefined) continue;
        files[key] = resolveFile(ctx.baseDir, file);
        if (!existsSync(files[key]))
          ctx.errors.push({ path: `storage.config.ssl.${key}`, message: `no file at ${files[key]}` });
      }
      if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
        ctx.errors.push({
          path: `storage.config.ssl.${files.certFile === undefined ? 'certFile' : 'keyFile'}`,
          message: 'certFile and keyFile go together (a client certificate and its key)',
        });
      }
      return { type: 'postgres', config: { ...rest, ...(ssl === undefined ? {} : { ssl: files }) } };
    }
    case undefined:
      if (DEX_ONLY_STORAGE_TYPES.includes(type)) {
        ctx.errors.push({
          path: 'storage.type',
          message: `storage type "${type}" is not supported by Gatehouse; use sqlite3 (one file), kubernetes (custom resources) or postgres`,
        });
      } else {
        const s = closest(type, STORAGE_TYPES);
        ctx.errors.push({
          path: 'storage.type',
          message: `unknown storage type "${type}"${s === undefined ? '' : ` (did you mean "${s}"?)`}; use memory, sqlite3, kubernetes or postgres`,
        });
      }
      return undefined;
  }
}
