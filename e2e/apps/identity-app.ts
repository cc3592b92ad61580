/**
 * The seed's sample application (step 20: a FastAPI handler returning `{"user": x_auth_request_email}`), in
 * TypeScript on node:http. It answers every GET with the identity NGINX injected, as JSON or as an HTML page.
 *
 * It trusts the X-Auth-Request-* headers only on requests that carry NGINX's shared secret
 * (X-Gatehouse-Proxy-Secret, compared in constant time): on loopback there is no network isolation, so the
 * secret stands in for "reachable only through the ingress". Anything else gets `identity: null`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const PROXY_SECRET_HEADER = 'x-gatehouse-proxy-secret';

export interface AppIdentity {
  user: string | null;
  email: string | null;
  preferredUsername: string | null;
  groups: string[];
}

/** What the app answers (JSON, and embedded in the HTML page as `<pre id="identity">`). */
export interface AppAnswer {
  /** The seed's field: the email NGINX injected, or null. */
  user: string | null;
  path: string;
  /** Whether the request came through NGINX (carried the shared secret). */
  viaProxy: boolean;
  identity: AppIdentity | null;
}

/** One request as the app saw it (for assertions; never contains the cookie or the secret). */
export interface AppRequestRecord {
  method: string;
  /** The request target exactly as received. */
  rawURL: string;
  /** How WHATWG reads it (`new URL(rawURL, 'http://app.invalid')`): the host (`app.invalid` unless the target names another) and the path served. */
  host: string;
  path: string;
  viaProxy: boolean;
  /** Raw X-Auth-Request-Email header received, whoever sent it. */
  emailHeader: string | undefined;
  identity: AppIdentity | null;
  /** Whether a forward-auth session cookie reached the app (it must not need it, but NGINX passes cookies). */
  hadCookie: boolean;
  /** Every header whose name starts with x- or is authorization, by lower-case name, as received (the proxy secret omitted). */
  headers: Record<string, string[]>;
}

/** The base the app resolves request targets against, as most frameworks do. */
export const APP_BASE = 'http://app.invalid';

export interface IdentityApp {
  /** `http://127.0.0.1:port`. */
  url: string;
  /** `127.0.0.1:port`, for the NGINX upstream. */
  addr: string;
  requests: AppRequestRecord[];
  stop(): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(',') : v;
  return s === undefined || s === '' ? undefined : s;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(answer: AppAnswer): string {
  const who = answer.identity?.email ?? answer.identity?.user ?? 'nobody';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gemini-rl sample app</title><link rel="icon" href="data:,">
<style>body{font:16px system-ui,sans-serif;margin:3rem;color:#1b1f23}h1{font-size:1.6rem}
pre{background:#f3f4f6;padding:1rem;border-radius:6px}</style></head>
<body><h1>Hello, ${escapeHTML(who)}</h1><p>Path <code>${escapeHTML(answer.path)}</code>, reached ${
    answer.viaProxy ? 'through NGINX' : 'directly (no identity trusted)'
  }.</p><pre id="identity">${escapeHTML(JSON.stringify(answer, null, 2))}</pre></body></html>`;
}

/** Starts the app on a free loopback port. `proxySecret` is the value NGINX sends in X-Gatehouse-Proxy-Secret. */
export async function startIdentityApp(options: { proxySecret: string }): Promise<IdentityApp> {
  if (options.proxySecret.length < 16) throw new Error('proxySecret must be at least 16 characters');
  const expected = digest(options.proxySecret);
  const requests: AppRequestRecord[] = [];
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', APP_BASE);
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'bad_request' }));
      return;
    }
    const secret = header(req, PROXY_SECRET_HEADER);
    // Hashing first gives equal lengths, so timingSafeEqual never throws and leaks no length.
    const viaProxy = secret !== undefined && timingSafeEqual(digest(secret), expected);
    const identity: AppIdentity | null =
      viaProxy &&
      (header(req, 'x-auth-request-user') !== undefined || header(req, 'x-auth-request-email') !== undefined)
        ? {
            user: header(req, 'x-auth-request-user') ?? null,
            email: header(req, 'x-auth-request-email') ?? null,
            preferredUsername: header(req, 'x-auth-request-preferred-username') ?? null,
            groups: (header(req, 'x-auth-request-groups') ?? '').split(',').filter((g) => g !== ''),
          }
        : null;
    const answer: AppAnswer = { user: identity?.email ?? null, path: url.pathname, viaProxy, identity };
    const seen: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if ((name.startsWith('x-') || name === 'authorization') && name !== PROXY_SECRET_HEADER && values)
        seen[name] = values;
    }
    requests.push({
      method: req.method ?? '',
      rawURL: req.url ?? '',
      host: url.host,
      path: url.pathname,
      viaProxy,
      emailHeader: header(req, 'x-auth-request-email'),
      identity,
      hadCookie: header(req, 'cookie') !== undefined,
      headers: seen,
    });
    // Recorded first: a smuggled request of any method must show up in `requests`.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'method_not_allowed' }));
      return;
    }
    const wantsJSON = url.searchParams.get('format') === 'json' || !(req.headers.accept ?? '').includes('text/html');
    const body = wantsJSON ? JSON.stringify(answer) : page(answer);
    res.writeHead(200, {
      'Content-Type': wantsJSON ? 'application/json' : 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 75_000; // longer than NGINX's upstream keepalive, so NGINX closes first
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    addr: `127.0.0.1:${port}`,
    requests,
    async stop() {
      const closed = new Promise<void>((res) => server.close(() => res()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
