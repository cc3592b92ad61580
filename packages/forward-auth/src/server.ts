import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createForwardAuthHandler, type ForwardAuthHandler } from './app.ts';
import type { ForwardAuthConfig } from './config/schema.ts';
import type { FetchLike } from './oidc/client.ts';

export interface StartOptions {
  readonly config: ForwardAuthConfig | Readonly<Record<string, unknown>>;
  readonly logger?: Logger;
  readonly fetch?: FetchLike;
}

export interface RunningForwardAuth {
  /** Base URL, e.g. http://127.0.0.1:4180 (the real port when http_address asked for port 0). */
  readonly url: string;
  readonly server: Server;
  readonly handler: ForwardAuthHandler;
  close(): Promise<void>;
}

/** Starts forward-auth on `http_address` and begins issuer discovery (failures only make /ready answer 503). */
export async function startForwardAuth(options: StartOptions): Promise<RunningForwardAuth> {
  const handler = createForwardAuthHandler(options.config, {
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const cfg = handler.context.cfg;
  const address = cfg.http_address.replace(/^https?:\/\//, '');
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(address.slice(colon + 1));
  const server = createServer({ keepAlive: true }, handler);
  // Longer than nginx's upstream keepalive_timeout (60s), so nginx never reuses a connection we just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actual } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${actual}`;
  handler.context.log.info({ url }, 'forward-auth listening');
  handler.context.oidc.discover().catch((err: unknown) => handler.context.log.warn({ err: (err as Error).message }, 'issuer discovery failed; will retry'));
  return {
    url,
    server,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
