import { readFile } from 'node:fs/promises';
import { ConnectorError, defineConnector, parseDurationMs } from '@gatehouse/connector-kit';
import { configWarnings, endpointsFor, githubConfigSchema } from './config.ts';
import type { GitHubConfig } from './config.ts';
import { GitHubConnector } from './connector.ts';
import { GitHubHttp } from './http.ts';

export { githubConfigSchema, endpointsFor } from './config.ts';
export type { GitHubConfig, GitHubConfigInput, GitHubEndpoints } from './config.ts';
export { GitHubConnector } from './connector.ts';
export { matchesEmailDomain } from './email.ts';
export { parseLinkHeader } from './api.ts';

async function loadRootCA(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConnectorError(
      'invalid_configuration',
      `rootCA: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      {
        key: 'rootCA',
        cause: error,
      },
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConnectorError('invalid_configuration', `rootCA: ${path} holds no PEM certificate`, { key: 'rootCA' });
  }
  return pem;
}

/** `type: github`: GitHub.com and GitHub Enterprise Server OAuth apps. */
export const factory = defineConnector<GitHubConfig>({
  type: 'github',
  configSchema: githubConfigSchema,
  warnings: configWarnings,
  async open(id, config, context) {
    const logger = context.logger.child({ connector: id, type: 'github' });
    const ca = config.rootCA !== undefined ? await loadRootCA(config.rootCA) : undefined;
    const http = new GitHubHttp({
      timeoutMs: parseDurationMs(config.requestTimeout) ?? 10_000,
      logger,
      ...(ca !== undefined ? { ca } : {}),
    });
    return new GitHubConnector({ id, config, endpoints: endpointsFor(config), http, logger });
  },
});

export default factory;
