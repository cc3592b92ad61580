/**
 * Loads a Dex-style YAML config into a validated `IssuerConfig`, reporting every problem at once
 * with its key path. Order: YAML → unknown keys → `$VAR` expansion (where Dex does it) → value
 * schemas (schema.ts) → rules across keys (rules.ts) → connector configs (each factory's schema).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { isRecord } from '@gatehouse/common';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import { createRegistry } from '../connectors/registry.ts';
import { expandEnvEnabled, expandTree } from './env.ts';
import { checkKeys, formatPath } from './keys.ts';
import type { PathPart } from './keys.ts';
import { checkRules } from './rules.ts';
import { configSchema } from './schema.ts';
import type { ConfigIssue, ConfigResult } from './types.ts';

export interface LoadConfigOptions {
  /** Environment for `idEnv`, `secretEnv`, `hashFromEnv` and `$VAR` expansion. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative file paths (sqlite3 `file`, TLS files, kubeconfig) are resolved against. Default cwd. */
  baseDir?: string;
  /** Resolves connector types to validate their configs. Default `createRegistry()`. */
  registry?: ConnectorRegistry;
  /** Listen addresses that replace the file's (Dex's `serve --web-http-addr ...` flags), validated like it. */
  overrides?: ConfigOverrides;
}

export interface ConfigOverrides {
  webHTTP?: string;
  webHTTPS?: string;
  telemetryHTTP?: string;
}

function applyOverrides(data: Record<string, unknown>, o: ConfigOverrides): void {
  const section = (key: string): Record<string, unknown> => {
    const current = data[key];
    const next = isRecord(current) ? current : {};
    data[key] = next;
    return next;
  };
  if (o.webHTTP !== undefined) section('web')['http'] = o.webHTTP;
  if (o.webHTTPS !== undefined) section('web')['https'] = o.webHTTPS;
  if (o.telemetryHTTP !== undefined) section('telemetry')['http'] = o.telemetryHTTP;
}

const MAX_YAML_ERRORS = 5;

/** Expands `$VAR` in the three places Dex does, warning about variables that are not set. */
function expandEnv(data: Record<string, unknown>, env: NodeJS.ProcessEnv, warnings: ConfigIssue[]): void {
  const lookup = (name: string): string | undefined => env[name];
  const warnUnset = (base: PathPart[]) => (rel: PathPart[], name: string, isSet: boolean) => {
    if (!isSet) {
      warnings.push({
        path: formatPath([...base, ...rel]),
        message: `environment variable ${name} is not set; it expands to ""`,
      });
    }
  };
  const storage = data['storage'];
  if (isRecord(storage) && isRecord(storage['config'])) {
    storage['config'] = expandTree(storage['config'], lookup, warnUnset(['storage', 'config']));
  }
  const signer = data['signer'];
  if (isRecord(signer) && isRecord(signer['config'])) {
    signer['config'] = expandTree(signer['config'], lookup, warnUnset(['signer', 'config']));
  }
  const connectors = data['connectors'];
  if (Array.isArray(connectors)) {
    connectors.forEach((c: unknown, i) => {
      if (isRecord(c) && isRecord(c['config'])) {
        c['config'] = expandTree(c['config'], lookup, warnUnset(['connectors', i, 'config']));
      }
    });
  }
}

export async function loadConfig(text: string, options: LoadConfigOptions = {}): Promise<ConfigResult> {
  const env = options.env ?? process.env;
  const baseDir = path.resolve(options.baseDir ?? process.cwd());
  const registry = options.registry ?? createRegistry([], { searchPaths: [baseDir, process.cwd()] });
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  // One syntax slip can cascade into hundreds of parser errors: the first few locate it.
  for (const e of doc.errors.slice(0, MAX_YAML_ERRORS)) {
    const at = lineCounter.linePos(e.pos[0]);
    errors.push({
      path: '',
      message: `YAML line ${at.line}, column ${at.col}: ${e.message.split('\n')[0] ?? ''}`,
    });
  }
  if (doc.errors.length > MAX_YAML_ERRORS) {
    errors.push({ path: '', message: `YAML: ${doc.errors.length - MAX_YAML_ERRORS} more syntax errors after these` });
  }
  if (errors.length > 0) return { ok: false, errors, warnings };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, errors: [{ path: '', message: `YAML: ${(e as Error).message}` }], warnings };
  }
  if (raw === null || raw === undefined) {
    return { ok: false, errors: [{ path: '', message: 'the config file is empty' }], warnings };
  }
  if (!isRecord(raw)) {
    return {
      ok: false,
      errors: [{ path: '', message: 'the config file must be a YAML mapping (key: value)' }],
      warnings,
    };
  }

  const data = checkKeys(raw, configSchema, errors, warnings) as Record<string, unknown>;
  if (options.overrides !== undefined) applyOverrides(data, options.overrides);
  if (expandEnvEnabled(env)) expandEnv(data, env, warnings);

  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      errors.push({ path: formatPath(issue.path as PathPart[]), message: issue.message });
    }
  }

  const built = await checkRules(data, parsed.success ? parsed.data : undefined, {
    env,
    baseDir,
    registry,
    errors,
    warnings,
  });

  // Grouped by key path (index-aware) so related problems are read together.
  const byPath = (a: ConfigIssue, b: ConfigIssue) => a.path.localeCompare(b.path, 'en', { numeric: true });
  errors.sort(byPath);
  warnings.sort(byPath);
  if (errors.length > 0 || built === undefined) return { ok: false, errors, warnings };
  return { ok: true, config: built, warnings };
}

/** Reads and loads a config file; relative paths in it are resolved against its folder. */
export async function loadConfigFile(
  file: string,
  options: Omit<LoadConfigOptions, 'baseDir'> & { baseDir?: string } = {},
): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    return {
      ok: false,
      errors: [{ path: '', message: `cannot read config file ${file}${code === undefined ? '' : ` (${code})`}` }],
      warnings: [],
    };
  }
  return loadConfig(text, { ...options, baseDir: options.baseDir ?? path.dirname(path.resolve(file)) });
}
