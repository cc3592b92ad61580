import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { parseDurationMs } from '@gatehouse/common';
import { ENV_PREFIXES, OPTIONS, UNSUPPORTED_OPTIONS, isOptionName, type OptionKind } from './options.ts';
import { forwardAuthSchema, type ForwardAuthConfig } from './schema.ts';

export interface ConfigIssue {
  /** The option name (oauth2-proxy spelling) or the source that failed, e.g. `--config`. */
  readonly option: string;
  readonly message: string;
}

/** Every configuration problem found, reported together. */
export class ForwardAuthConfigError extends Error {
  readonly code = 'invalid_config';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid forward-auth configuration:\n${issues.map((i) => `  - ${i.option}: ${i.message}`).join('\n')}`);
    this.name = 'ForwardAuthConfigError';
    this.issues = issues;
  }
}

export interface LoadedConfig {
  readonly config: ForwardAuthConfig;
  /** Options accepted but not implemented, or ignored environment variables: log them at start-up. */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** Command-line arguments (without node and the script), e.g. `['--config', 'fa.toml', '--client-id=x']`. */
  readonly argv?: readonly string[];
  /** Environment; `GATEHOUSE_FA_*` wins over `OAUTH2_PROXY_*`. Defaults to none (pass process.env explicitly). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A TOML config file; `--config` in argv overrides it. */
  readonly configFile?: string;
  /** Programmatic values, applied last (highest precedence). */
  readonly values?: Readonly<Record<string, unknown>>;
}

type Raw = Record<string, unknown>;

function convert(name: string, kind: OptionKind, value: unknown, issues: ConfigIssue[]): unknown {
  const bad = (expected: string) => {
    issues.push({ option: name, message: `must be ${expected}` });
    return undefined;
  };
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : bad('a string');
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|1|yes|on)$/i.test(value.trim())) return true;
      if (typeof value === 'string' && /^(false|0|no|off)$/i.test(value.trim())) return false;
      return bad('true or false');
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value);
      return bad('an integer');
    case 'duration':
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
      if (typeof value === 'string')
        return parseDurationMs(value) ?? bad('a duration such as "168h", "1h30m" or "15m"');
      return bad('a duration such as "168h"');
    case 'list':
      if (Array.isArray(value)) {
        if (value.every((v) => typeof v === 'string'))
          return value.map((v: string) => v.trim()).filter((v) => v !== '');
        return bad('a list of strings');
      }
      if (typeof value === 'string')
        return value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '');
      return bad('a list of strings');
  }
}

function mergeSource(
  target: Raw,
  source: Raw,
  where: string,
  issues: ConfigIssue[],
  warnings: string[],
  strict: boolean,
): void {
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (!isOptionName(name)) {
      if (UNSUPPORTED_OPTIONS.includes(name))
        warnings.push(`${name} (${where}) is not implemented by gatehouse-forward-auth and is ignored`);
      else if (strict) issues.push({ option: name, message: `unknown option (${where})` });
      else warnings.push(`${name} (${where}) is not a known option and is ignored`);
      continue;
    }
    const converted = convert(name, OPTIONS[name].kind, value, issues);
    if (converted !== undefined) target[name] = converted;
  }
}

function readToml(path: string, issues: ConfigIssue[]): Raw {
  try {
    return parseToml(readFileSync(path, 'utf8')) as Raw;
  } catch (err) {
    issues.push({ option: '--config', message: `cannot read ${path}: ${(err as Error).message.split('\n')[0]}` });
    return {};
  }
}

function fromEnv(env: Readonly<Record<string, string | undefined>>): Raw {
  const out: Raw = {};
  // Later prefixes in ENV_PREFIXES have lower precedence: apply them first.
  for (const prefix of [...ENV_PREFIXES].reverse()) {
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined || !key.startsWith(prefix)) continue;
      out[key.slice(prefix.length).toLowerCase()] = value;
    }
  }
  return out;
}

const FLAG_ALIASES: ReadonlyMap<string, string> = new Map(
  Object.entries(OPTIONS).flatMap(([name, spec]) => [
    [name.replace(/_/g, '-'), name] as const,
    ...('flagAliases' in spec ? spec.flagAliases.map((a) => [a, name] as const) : []),
  ]),
);

export interface ParsedArgs {
  readonly values: Raw;
  readonly configFile?: string;
  readonly configTest: boolean;
  readonly help: boolean;
}

/** `--name=value`, `--name value`, bare `--flag` for booleans; list flags repeat and accumulate. */
export function parseArgs(argv: readonly string[], issues: ConfigIssue[]): ParsedArgs {
  const values: Raw = {};
  let configFile: string | undefined;
  let configTest = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      issues.push({ option: arg, message: 'unexpected argument (options are --name=value)' });
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq === -1 ? undefined : eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (flag === 'help') {
      help = true;
      continue;
    }
    if (flag === 'config-test') {
      configTest = true;
      continue;
    }
    const name = flag === 'config' ? 'config' : (FLAG_ALIASES.get(flag) ?? flag.replace(/-/g, '_'));
    const kind = isOptionName(name) ? OPTIONS[name].kind : undefined;
    if (value === undefined) {
      const next = argv[i + 1];
      if (kind === 'bool' && (next === undefined || !/^(true|false)$/i.test(next))) value = 'true';
      else if (next !== undefined && !next.startsWith('--')) value = argv[++i];
      else {
        issues.push({ option: `--${flag}`, message: 'needs a value' });
        continue;
      }
    }
    if (name === 'config') configFile = value;
    else if (kind === 'list')
      values[name] = [...((values[name] as string[] | undefined) ?? []), ...(value as string).split(',')];
    else values[name] = value;
  }
  return { values, ...(configFile === undefined ? {} : { configFile }), configTest, help };
}

function resolveSecretFile(raw: Raw, option: string, fileOption: string, issues: ConfigIssue[]): void {
  const path = raw[fileOption];
  delete raw[fileOption];
  if (typeof path !== 'string') return;
  if (raw[option] !== undefined) {
    issues.push({ option: fileOption, message: `cannot be combined with ${option}` });
    return;
  }
  try {
    raw[option] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    issues.push({
      option: fileOption,
      message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    });
  }
}

/** Validates merged raw values; throws ForwardAuthConfigError with every issue. */
function finish(raw: Raw, issues: ConfigIssue[], warnings: string[]): LoadedConfig {
  resolveSecretFile(raw, 'client_secret', 'client_secret_file', issues);
  resolveSecretFile(raw, 'cookie_secret', 'cookie_secret_file', issues);
  const parsed = forwardAuthSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [head, ...rest] = issue.path;
      const option = head === undefined ? '(config)' : `${String(head)}${rest.map((p) => `[${String(p)}]`).join('')}`;
      const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
      issues.push({ option, message });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ForwardAuthConfigError(issues);
  const config = parsed.data;
  if (config.cookie_refresh > 0 && !/\boffline_access\b/.test(config.scope)) {
    warnings.push('cookie_refresh is set but scope has no "offline_access": the issuer may not return a refresh token');
  }
  if (!config.cookie_secure) warnings.push('cookie_secure = false: the session cookie is sent over plain HTTP');
  return { config, warnings };
}

/** Merges file < environment < flags < values, converts Go durations and lists, and validates. */
export function loadForwardAuthConfig(
  options: LoadOptions = {},
): LoadedConfig & { configTest: boolean; help: boolean } {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const args = parseArgs(options.argv ?? [], issues);
  const raw: Raw = {};
  const file = args.configFile ?? options.configFile;
  if (file !== undefined) mergeSource(raw, readToml(file, issues), file, issues, warnings, true);
  if (options.env !== undefined) mergeSource(raw, fromEnv(options.env), 'environment', issues, warnings, false);
  mergeSource(raw, args.values, 'flags', issues, warnings, true);
  if (options.values !== undefined) mergeSource(raw, { ...options.values }, 'values', issues, warnings, true);
  return { ...finish(raw, issues, warnings), configTest: args.configTest, help: args.help };
}

/** Validates a programmatic configuration object (durations as Go strings or milliseconds). */
export function validateForwardAuthConfig(values: Readonly<Record<string, unknown>>): LoadedConfig {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const raw: Raw = {};
  mergeSource(raw, { ...values }, 'values', issues, warnings, true);
  return finish(raw, issues, warnings);
}
