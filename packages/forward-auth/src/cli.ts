#!/usr/bin/env node
// gatehouse-forward-auth: oauth2-proxy's options from --config (TOML), GATEHOUSE_FA_* / OAUTH2_PROXY_* and flags.
import { pino } from 'pino';
import { ForwardAuthConfigError, loadForwardAuthConfig, validateForwardAuthConfig } from './config/load.ts';
import { startForwardAuth } from './server.ts';

const USAGE = `usage: gatehouse-forward-auth [--config file.toml] [--option-name=value ...] [--config-test]
Options use oauth2-proxy's names with dashes (--client-id, --cookie-secret, --email-domain, ...).
Environment: GATEHOUSE_FA_<OPTION> (or OAUTH2_PROXY_<OPTION>). Precedence: flags > environment > file.`;

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = loadForwardAuthConfig({ argv: process.argv.slice(2), env: process.env });
  } catch (err) {
    if (err instanceof ForwardAuthConfigError) {
      if (process.argv.includes('--help')) console.log(USAGE);
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  if (loaded.help) {
    console.log(USAGE);
    return 0;
  }
  const logger = pino({ level: loaded.config.log_level, base: { component: 'forward-auth' } });
  // startForwardAuth logs the warnings that follow from the final config; log the loader's own ones here.
  const again = new Set(validateForwardAuthConfig(loaded.config).warnings);
  for (const w of loaded.warnings) if (!again.has(w) || loaded.configTest) logger.warn(w);
  if (loaded.configTest) {
    console.log('configuration OK');
    return 0;
  }
  const running = await startForwardAuth({ config: loaded.config, logger });
  const stop = () => {
    logger.info('shutting down');
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
