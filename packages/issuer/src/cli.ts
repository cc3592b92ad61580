#!/usr/bin/env node
/**
 * `gatehouse serve [--web-http-addr ADDR ...] CONFIG` (like `dex serve`), `gatehouse check CONFIG`,
 * `gatehouse version`, `gatehouse --help`.
 * Exit codes: 0 clean shutdown, 1 start-up or run-time failure, 2 usage or config errors.
 */
import { readFileSync } from 'node:fs';
import { loadConfigFile } from './config/load.ts';
import type { ConfigOverrides } from './config/load.ts';
import type { ConfigIssue, IssuerConfig } from './config/types.ts';
import { createLogger } from './logging.ts';
import type { Logger } from './logging.ts';

const USAGE = `Usage: gatehouse <command>

Commands:
  serve [flags] CONFIG   Load the YAML config file (Dex's format) and run the issuer.
  check CONFIG           Validate the config file and exit (0 valid, 2 errors).
  version                Print the version.

Flags of serve (as Dex's; they replace the file's values):
  --web-http-addr ADDR   web.http, e.g. 0.0.0.0:5556
  --web-https-addr ADDR  web.https
  --telemetry-addr ADDR  telemetry.http
  --grpc-addr ADDR       accepted and ignored (Gatehouse has no gRPC API)

Options:
  -h, --help             Show this help.

Every config problem is printed as "error: <key path>: <message>" and the
process exits with status 2. GATEHOUSE_EXPAND_ENV=false (or DEX_EXPAND_ENV=false)
turns off $VAR expansion in storage.config, connectors[].config and signer.config.
`;

/** Seconds a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function printIssues(kind: 'error' | 'warning', issues: readonly ConfigIssue[]): void {
  for (const i of issues) process.stderr.write(`${kind}: ${i.path === '' ? '' : `${i.path}: `}${i.message}\n`);
}

const FLAG_TO_OVERRIDE: Record<string, keyof ConfigOverrides | 'ignored'> = {
  '--web-http-addr': 'webHTTP',
  '--web-https-addr': 'webHTTPS',
  '--telemetry-addr': 'telemetryHTTP',
  '--grpc-addr': 'ignored',
};

type ParsedServeArgs =
  { ok: true; file: string; overrides: ConfigOverrides; ignored: string[] } | { ok: false; message: string };

/** `--flag value` and `--flag=value`, as cobra accepts them; exactly one positional CONFIG. */
export function parseServeArgs(args: readonly string[], withFlags: boolean): ParsedServeArgs {
  const overrides: ConfigOverrides = {};
  const ignored: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('-') || arg === '-') {
      files.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const target = withFlags ? FLAG_TO_OVERRIDE[name] : undefined;
    if (target === undefined) return { ok: false, message: `unknown option ${name}` };
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = args[i + 1];
      i += 1;
    }
    if (value === undefined || value === '') return { ok: false, message: `${name} needs an address` };
    if (target === 'ignored') ignored.push(name);
    else overrides[target] = value;
  }
  if (files.length !== 1 || files[0] === undefined) return { ok: false, message: 'expected exactly one CONFIG file' };
  return { ok: true, file: files[0], overrides, ignored };
}

async function load(file: string, overrides: ConfigOverrides): Promise<IssuerConfig | undefined> {
  const result = await loadConfigFile(file, { overrides });
  printIssues('warning', result.warnings);
  if (!result.ok) {
    printIssues('error', result.errors);
    process.stderr.write(`${file}: ${result.errors.length} config error${result.errors.length === 1 ? '' : 's'}\n`);
    return undefined;
  }
  return result.config;
}

async function serve(file: string, overrides: ConfigOverrides, ignored: readonly string[]): Promise<number> {
  for (const flag of ignored) process.stderr.write(`warning: ${flag} is ignored: Gatehouse has no gRPC API\n`);
  const config = await load(file, overrides);
  if (config === undefined) {
    process.stderr.write('not started\n');
    return 2;
  }
  const logger: Logger = createLogger(config.logger);
  let issuer: { issuerURL: string; close(): Promise<void> };
  try {
    // Loaded only now, so `version`, `--help` and config checks need no server code.
    const { startIssuer } = await import('./index.ts');
    issuer = await startIssuer({ config, logger });
  } catch (e) {
    logger.fatal({ err: e }, 'the issuer could not start');
    return 1;
  }
  logger.info({ issuer: issuer.issuerURL, version: version() }, 'gatehouse serving');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
        resolve(1);
      }, SHUTDOWN_TIMEOUT_MS);
      timer.unref();
      issuer.close().then(
        () => {
          clearTimeout(timer);
          logger.info('stopped');
          resolve(0);
        },
        (e: unknown) => {
          clearTimeout(timer);
          logger.error({ err: e }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`gatehouse ${version()} (node ${process.versions.node})\n`);
    return 0;
  }
  if (command === 'serve' || command === 'check') {
    if (rest.includes('-h') || rest.includes('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const parsed = parseServeArgs(rest, command === 'serve');
    if (!parsed.ok) {
      process.stderr.write(`gatehouse ${command}: ${parsed.message}\n\n${USAGE}`);
      return 2;
    }
    if (command === 'serve') return serve(parsed.file, parsed.overrides, parsed.ignored);
    const config = await load(parsed.file, parsed.overrides);
    if (config === undefined) return 2;
    process.stdout.write(`${parsed.file}: valid (issuer ${config.issuer})\n`);
    return 0;
  }
  process.stderr.write(`gatehouse: unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

// Run when executed directly (not when imported by tests).
if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`gatehouse: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
