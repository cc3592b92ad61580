// HTTPS requests to the nginx of deploy/nginx/gatehouse.conf.template, and small servers behind it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startNginx, type Nginx } from '@gatehouse/testkit/nginx';
import { createTestCA } from '@gatehouse/testkit/tls';

export const TEMPLATE = fileURLToPath(new URL('../../../deploy/nginx/gatehouse.conf.template', import.meta.url));
export const HOST = 'gatehouse.test';

export interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** HTTPS to nginx on 127.0.0.1 with SNI/Host = HOST; `path` is sent exactly as given (like curl --path-as-is). */
export function send(
  port: number,
  ca: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername: HOST,
        method,
        path,
        headers: { host: `${HOST}:${port}`, ...headers },
        ca,
        agent: false,
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  // Room for a chunked session cookie next to 5+ KB of identity headers.
  const server = createServer({ maxHeaderSize: 64 * 1024 }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}
export const addr = (s: Server) => `127.0.0.1:${(s.address() as AddressInfo).port}`;
export const close = (s: Server | undefined) =>
  new Promise<void>((r) => {
    if (s === undefined) return r();
    s.close(() => r());
    s.closeAllConnections();
  });

/** nginx from the deploy template on HOST with a fresh test CA, in front of the given upstreams (`host:port`). */
export async function startTemplateNginx(upstreams: {
  forwardAuth: string;
  issuer: string;
  app: string;
}): Promise<{ nginx: Nginx; ca: string }> {
  const testCA = await createTestCA('forward-auth nginx test CA');
  const leaf = await testCA.issue([HOST]);
  const nginx = await startNginx({
    confTemplate: TEMPLATE,
    files: { 'tls/server.crt': leaf.cert, 'tls/server.key': leaf.key },
    vars: {
      SERVER_NAME: HOST,
      TLS_CERT: 'tls/server.crt',
      TLS_KEY: 'tls/server.key',
      FORWARD_AUTH_ADDR: upstreams.forwardAuth,
      ISSUER_ADDR: upstreams.issuer,
      APP_ADDR: upstreams.app,
      APP_PROXY_SECRET: 'proxy-secret',
      APP_PROXY_PASS: 'http://app',
    },
  });
  return { nginx, ca: testCA.caCert };
}
