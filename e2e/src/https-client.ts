// A minimal HTTPS client for requests the browser cannot make (forged headers, bodies): it connects to
// 127.0.0.1, presents the public host name for SNI and Host, and trusts only the given CA.
import { request } from 'node:https';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpsRequest(
  origin: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; ca: string },
): Promise<RawResponse> {
  const url = new URL(path, origin);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(url.port),
        servername: url.hostname,
        method: init.method ?? 'GET',
        path: url.pathname + url.search,
        headers: { host: url.host, ...init.headers },
        ca: init.ca,
        agent: false,
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${init.method ?? 'GET'} ${path}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}
