// HTTPS requests to the nginx of deploy/nginx/gatehouse.conf.template, and small servers behind it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const TEMPLATE = fileURLToPath(new URL('../../../deploy/nginx/gatehouse.conf.template', import.meta.url));
export const HOST = 'gatehouse.test';

export interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** HTTPS to nginx on 127.0.0.1 with SNI/Host = HOST; `path` is sent exactly as given (like curl --path-as-is). */
export function send(port: number, ca: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, servername: HOST, method, path, headers: { host: `${HOST}:${port}`, ...headers }, ca, agent: false, timeout: 15_000 },
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

