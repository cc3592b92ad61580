/**
 * Clients that send what a browser would not: a request target exactly as given (`http1`), raw bytes on one
 * TLS connection (`rawExchange`, for smuggling and obs-fold), and HTTP/2 with arbitrary headers (`http2Request`).
 * All connect to 127.0.0.1 with SNI (and, unless overridden, Host) set to the stack's public host name, and
 * trust only the stack's CA.
 */
import { Agent, request } from 'node:https';
import { connect as h2connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';

/** Where to send: the stack's nginx (an AdversarialStack is one), or a bare edge started by a test. */
export interface EdgeTarget {
  host: string;
  port: number;
  tls: { caCert: string };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agents = new WeakMap<EdgeTarget, Agent>();

/** A keep-alive agent per stack (corpora send thousands of requests; a TLS handshake each would dominate). */
function agentFor(target: EdgeTarget): Agent {
  let a = agents.get(target);
  if (a === undefined) {
    a = new Agent({ keepAlive: true, maxSockets: 8, ca: target.tls.caCert, servername: target.host });
    agents.set(target, a);
  }
  return a;
}

/**
 * HTTP/1.1 with `path` as the request target byte for byte (like `curl --path-as-is`; Node refuses only
 * targets with spaces, controls or characters above U+00FF, which it writes as latin1 bytes).
 * `headers` may hold arrays (a header sent several times). `host` overrides the Host header.
 */
export function http1(
  target: EdgeTarget,
  path: string,
  init: { method?: string; headers?: Record<string, string | string[]>; host?: string; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        servername: target.host,
        method: init.method ?? 'GET',
        path,
        headers: { host: init.host ?? `${target.host}:${target.port}`, ...init.headers },
        agent: agentFor(target),
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
    req.on('timeout', () => req.destroy(new Error(`timeout: ${path}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Closes the keep-alive connections of `http1` for a stack (call before stopping it). */
export function closeClients(target: EdgeTarget): void {
  agents.get(target)?.destroy();
  agents.delete(target);
}

/**
 * Writes `bytes` on a fresh TLS connection and returns everything nginx sent back until it closed the
 * connection (or `idleMs` passed without data), parsed into responses.
 */
export function rawExchange(
  target: EdgeTarget,
  bytes: string | Buffer,
  idleMs = 1_500,
): Promise<{ raw: string; responses: Answer[] }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: target.port,
      servername: target.host,
      ca: target.tls.caCert,
      ALPNProtocols: ['http/1.1'],
    });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      resolve({ raw, responses: parseResponses(raw) });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    socket.once('secureConnect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      arm();
    });
    socket.on('end', finish);
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
  });
}

/** HTTP/1.1 responses in a byte stream (Content-Length, chunked, or to the end). */
export function parseResponses(raw: string): Answer[] {
  const out: Answer[] = [];
  let rest = raw;
  while (rest.startsWith('HTTP/')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string | string[]> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    rest = rest.slice(headEnd + 4);
    let body = '';
    const cl = headers['content-length'];
    if (typeof cl === 'string') {
      body = rest.slice(0, Number(cl));
      rest = rest.slice(Number(cl));
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const eol = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, eol), 16);
        if (eol === -1 || Number.isNaN(size)) break;
        body += rest.slice(eol + 2, eol + 2 + size);
        rest = rest.slice(eol + 2 + size + 2);
        if (size === 0) break;
      }
    } else {
      body = rest;
      rest = '';
    }
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body });
  }
  return out;
}

/** One HTTP/2 request on a connection of its own; `headers` may hold arrays and names that HTTP/1.1 clients would refuse. */
export async function http2Request(
  target: EdgeTarget,
  path: string,
  headers: Record<string, string | string[]> = {},
  authority?: string,
): Promise<Answer> {
  const client = http2Client(target);
  try {
    return await client.request(path, headers, authority);
  } finally {
    client.close();
  }
}

export interface Http2Client {
  /** A request on the shared connection (streams run concurrently). */
  request(path: string, headers?: Record<string, string | string[]>, authority?: string): Promise<Answer>;
  close(): void;
}

/** One HTTP/2 connection for many requests (a corpus would otherwise pay a TLS handshake per case). */
export function http2Client(target: EdgeTarget): Http2Client {
  let session: ClientHttp2Session | undefined;
  const open = (): ClientHttp2Session => {
    if (session === undefined || session.closed || session.destroyed) {
      session = h2connect(`https://${target.host}:${target.port}`, {
        createConnection: () =>
          tlsConnect({
            host: '127.0.0.1',
            port: target.port,
            servername: target.host,
            ca: target.tls.caCert,
            ALPNProtocols: ['h2'],
          }),
      });
      session.on('error', () => undefined); // surfaced by the streams
    }
    return session;
  };
  return {
    request: (path, headers = {}, authority) => streamRequest(open(), target, path, headers, authority),
    close: () => session?.close(),
  };
}

function streamRequest(
  session: ClientHttp2Session,
  target: EdgeTarget,
  path: string,
  headers: Record<string, string | string[]>,
  authority: string | undefined,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'GET',
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_AUTHORITY]: authority ?? `${target.host}:${target.port}`,
      [h2.HTTP2_HEADER_SCHEME]: 'https',
      ...headers,
    });
    let status = 0;
    let resHeaders: Record<string, string | string[] | undefined> = {};
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[h2.HTTP2_HEADER_STATUS]);
      resHeaders = h as Record<string, string | string[] | undefined>;
    });
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, headers: resHeaders, body }));
    req.on('error', reject);
    req.end();
  });
}
