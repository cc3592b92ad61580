/**
 * The telemetry listener (`telemetry.http`): `/metrics` (Prometheus), `/healthz` (liveness: the
 * process answers), `/readyz` (readiness: `ready()` resolves, e.g. the store answers a ping).
 * Dex's `/healthz/live` and `/healthz/ready` are served as aliases. Plain node:http, no framework.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../logging.ts';
import { ADDRESS } from '../config/values.ts';

export interface TelemetryOptions {
  /** Resolves when the issuer can serve (store reachable, keys loaded); throws otherwise. */
  ready: () => Promise<void>;
  /** Metrics to expose; without it `/metrics` answers 404. */
  registry?: Registry;
  logger?: Logger;
  /** Upper bound for one `ready()` call; a slower answer is "not ready". Default 5000 ms. */
  readyTimeoutMs?: number;
}

export interface TelemetryServer {
  /** `http://host:port` actually bound (port 0 in the address picks a free one). */
  url: string;
  close(): Promise<void>;
}

/** `host:port` → listen arguments; an empty host listens on every interface. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const m = ADDRESS.exec(address);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port > 65535) throw new Error(`invalid listen address "${address}"`);
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? undefined : host, port };
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = 'application/json',
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`readiness check took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startTelemetryServer(address: string, options: TelemetryOptions): Promise<TelemetryServer> {
  const { host, port } = parseListenAddress(address);
  const readyTimeoutMs = options.readyTimeoutMs ?? 5000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://telemetry').pathname;
    const known = ['/metrics', '/healthz', '/healthz/live', '/readyz', '/healthz/ready'];
    if (!known.includes(path)) {
      send(res, 404, JSON.stringify({ error: 'not_found' }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, JSON.stringify({ error: 'method_not_allowed' }), 'application/json', { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/metrics':
        if (options.registry === undefined) {
          send(res, 404, JSON.stringify({ error: 'not_found' }));
          return;
        }
        send(res, 200, await options.registry.metrics(), options.registry.contentType);
        return;
      case '/healthz':
      case '/healthz/live':
        send(res, 200, JSON.stringify({ status: 'ok' }));
        return;
      default:
        try {
          await withTimeout(options.ready(), readyTimeoutMs);
          send(res, 200, JSON.stringify({ status: 'ok' }));
        } catch (e) {
          // The reason goes to the log, not to the (unauthenticated) caller.
          options.logger?.warn({ err: e }, 'readiness check failed');
          send(res, 503, JSON.stringify({ status: 'unavailable' }));
        }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      options.logger?.error({ err: e }, 'telemetry request failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'server_error' }));
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.listen(port, host);
  await once(server, 'listening'); // rejects on 'error' (port taken)
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
