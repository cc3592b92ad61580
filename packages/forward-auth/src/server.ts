import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createForwardAuthHandler, createMetricsHandler, type ForwardAuthHandler } from './router.ts';
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
  /** Base URL of the metrics_address listener, when one is configured. */
  readonly metricsUrl: string | undefined;
  readonly server: Server;
  readonly handler: ForwardAuthHandler;
  close(): Promise<void>;
}

interface Listening {
  readonly server: Server;
  readonly url: string;
}

/** Listens on `host:port` (oauth2-proxy's address form, an optional http:// prefix allowed). */
async function listen(address: string, handler: RequestListener): Promise<Listening> {
  const bare = address.replace(/^https?:\/\//, '');
  const colon = bare.lastIndexOf(':');
  const host = bare.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(bare.slice(colon + 1));
  const server = createServer({ keepAlive: true }, handler);
  // Longer than nginx's upstream keepalive_timeout (60s), so nginx never reuses a connection we just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  server.listen(port, host);
  await once(server, 'listening'); // rejects on 'error' (port taken)
  const { port: actual } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${shownHost}:${actual}` };
}

function stop(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts forward-auth on `http_address` (and /metrics on `metrics_address` when set) and begins issuer
 * discovery (failures only make /ready answer 503).
 */
export async function startForwardAuth(options: StartOptions): Promise<RunningForwardAuth> {
  const handler = createForwardAuthHandler(options.config, {
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const ctx = handler.context;
  let main: Listening;
  try {
    main = await listen(ctx.cfg.http_address, handler);
  } catch (err) {
    await handler.close();
    throw err;
  }
  let metrics: Listening | undefined;
  if (ctx.cfg.metrics_address !== undefined) {
    try {
      metrics = await listen(ctx.cfg.metrics_address, createMetricsHandler(ctx));
    } catch (err) {
      await stop(main.server);
      await handler.close();
      throw err;
    }
  }
  ctx.log.info(
    { url: main.url, ...(metrics === undefined ? {} : { metricsUrl: metrics.url }) },
    'forward-auth listening',
  );
  ctx.oidc
    .discover()
    .catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'issuer discovery failed; will retry'));
  return {
    url: main.url,
    metricsUrl: metrics?.url,
    server: main.server,
    handler,
    close: async () => {
      await Promise.all([stop(main.server), ...(metrics === undefined ? [] : [stop(metrics.server)])]);
      await handler.close();
    },
  };
}
