#!/usr/bin/env node
/**
 * `gatehouse serve CONFIG` (like `dex serve`), `gatehouse version`, `gatehouse --help`.
 * Exit codes: 0 clean shutdown, 1 start-up or run-time failure, 2 usage or config errors.
 */
import { readFileSync } from 'node:fs';
import { loadConfigFile } from './config/load.ts';
import type { ConfigIssue } from './config/types.ts';
import { createLogger } from './logging.ts';
import type { Logger } from './logging.ts';

const USAGE = `Usage: gatehouse <command>

Commands:
  serve CONFIG   Load the YAML config file (Dex's format) and run the issuer.
  version        Print the version.

Options:
  -h, --help     Show this help.

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

async function serve(file: string): Promise<number> {
  const result = await loadConfigFile(file);
  printIssues('warning', result.warnings);
  if (!result.ok) {
    printIssues('error', result.errors);
    process.stderr.write(`${file}: ${result.errors.length} config error${result.errors.length === 1 ? '' : 's'}; not started\n`);
    return 2;
  }
  const { config } = result;
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
  if (command === 'serve') {
    if (rest.includes('-h') || rest.includes('--help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const unknownFlag = rest.find((a) => a.startsWith('-'));
    if (unknownFlag !== undefined) {
      process.stderr.write(`gatehouse serve: unknown option ${unknownFlag}\n\n${USAGE}`);
      return 2;
    }
    if (rest.length !== 1 || rest[0] === undefined) {
      process.stderr.write(`gatehouse serve: expected exactly one CONFIG file\n\n${USAGE}`);
      return 2;
    }
    return serve(rest[0]);
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
