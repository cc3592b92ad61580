/**
 * The kit's bounded HTTP client against real loopback servers (HTTP and HTTPS with a test CA):
 * timeouts, the body cap, which requests are sent again after a dropped connection, redirects,
 * trust stores, and what reaches the logs.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { createTestCA } from '@gatehouse/testkit/tls';
import { afterEach, describe, expect, it } from 'vitest';
import { boundedFetch, DEFAULT_MAX_BODY_BYTES, HttpClient } from '../src/index.ts';
import { createMemoryLogger, expectConnectorError } from '../src/testing/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
const clients: HttpClient[] = [];

async function listen(server: Server, handler: Handler): Promise<{ url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${server instanceof tls.Server ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
  };
}

function client(options: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}): HttpClient {
  const c = new HttpClient({ upstream: 'Example', timeoutMs: 2000, ...options });
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** Reads the request body, then kills the connection the first `resets` times; answers `{}` afterwards. */
function resetting(resets: number, seen: Array<{ method: string; body: string }>): Handler {
  return (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', body });
      if (seen.length <= resets) return void req.socket.destroy();
      res.end('{"ok":true}');
    });
  };
}

describe('timeouts', () => {
  it('ends a hanging upstream with upstream_unavailable within the bound, sent once', async () => {
    let hits = 0;
    const { url } = await listen(createHttpServer(), () => void (hits += 1));
    const started = Date.now();
    const error = await client({ timeoutMs: 300 })
      .send({ method: 'GET', url, what: 'GET /hang' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'upstream_unavailable',
      message: 'Example: GET /hang did not answer within 300 ms',
      userMessage: expect.stringContaining('in time'),
    });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(hits).toBe(1);
  });

  it('bounds a body that trickles forever, not only the headers', async () => {
    const { url } = await listen(createHttpServer(), (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    await expectConnectorError(
      client({ timeoutMs: 400 }).send({ method: 'GET', url, what: 'GET /trickle' }),
      'upstream_unavailable',
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ends 50 concurrent requests to a hanging upstream, each in bounded time', async () => {
    const { url } = await listen(createHttpServer(), () => {});
    const c = client({ timeoutMs: 500 });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        c.send({ method: 'GET', url: `${url}/${i}`, what: 'GET /hang' }).catch((e: unknown) => e),
      ),
    );
    expect(results.every((r) => (r as { code?: string }).code === 'upstream_unavailable')).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('body cap', () => {
  it('stops reading past the limit with upstream_error, drops the connection, and does not send again', async () => {
    let hits = 0;
    let written = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const { url } = await listen(createHttpServer(), (_req, res) => {
      hits += 1;
      res.writeHead(200);
      res.on('close', () => (closed = true));
      const pump = (): void => {
        while (written < 200 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const error = await client({ timeoutMs: 15_000 })
      .send({ method: 'GET', url, what: 'GET /huge' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'upstream_error',
      message: `Example: the answer to GET /huge exceeds ${DEFAULT_MAX_BODY_BYTES} bytes`,
    });
    await expect.poll(() => closed, { timeout: 5000 }).toBe(true);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(hits).toBe(1);
  });

  it('accepts a body of exactly the limit, and honours a smaller limit per client or request', async () => {
    const { url } = await listen(createHttpServer(), (req, res) =>
      res.end('x'.repeat(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n')))),
    );
    expect(
      (await client().send({ method: 'GET', url: `${url}/?n=${DEFAULT_MAX_BODY_BYTES}`, what: 'GET' })).text,
    ).toHaveLength(DEFAULT_MAX_BODY_BYTES);
    await expectConnectorError(
      client({ maxBodyBytes: 1024 }).send({ method: 'GET', url: `${url}/?n=1025`, what: 'GET' }),
      'upstream_error',
    );
    await expectConnectorError(
      client().send({ method: 'GET', url: `${url}/?n=1025`, what: 'GET', maxBodyBytes: 1024 }),
      'upstream_error',
    );
    expect(
      (await client({ maxBodyBytes: 1024 }).send({ method: 'GET', url: `${url}/?n=1024`, what: 'GET' })).text,
    ).toHaveLength(1024);
  });
});

describe('sending again after a dropped connection', () => {
  it('sends a GET once more', async () => {
    const seen: Array<{ method: string; body: string }> = [];
    const { url } = await listen(createHttpServer(), resetting(1, seen));
    expect(await client().send({ method: 'GET', url, what: 'GET /keys' })).toMatchObject({
      status: 200,
      text: '{"ok":true}',
    });
    expect(seen.map((s) => s.method)).toEqual(['GET', 'GET']);
  });

  it('never sends a POST twice (a token request may have spent its code)', async () => {
    const seen: Array<{ method: string; body: string }> = [];
    const { url } = await listen(createHttpServer(), resetting(1, seen));
    await expectConnectorError(
      client().send({ method: 'POST', url, body: 'grant_type=authorization_code&code=once', what: 'token endpoint' }),
      'upstream_unavailable',
    );
    expect(seen).toEqual([{ method: 'POST', body: 'grant_type=authorization_code&code=once' }]);
  });

  it('sends a POST marked idempotent once more, and gives up after the second failure', async () => {
    const seen: Array<{ method: string; body: string }> = [];
    const { url } = await listen(createHttpServer(), resetting(5, seen));
    await expectConnectorError(
      boundedFetch({
        upstream: 'Example',
        method: 'POST',
        url,
        body: '{}',
        idempotent: true,
        timeoutMs: 2000,
        what: 'read',
      }),
      'upstream_unavailable',
    );
    expect(seen).toHaveLength(2);
  });

  it('makes a refused connection upstream_unavailable', async () => {
    const { url } = await listen(createHttpServer(), () => {});
    const closed = url;
    for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
    const error = await client()
      .send({ method: 'GET', url: closed, what: 'GET /' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_unavailable', message: expect.stringContaining('ECONNREFUSED') });
  });
});

describe('answers', () => {
  it('returns a redirect instead of following it, with headers', async () => {
    let hits = 0;
    const { url } = await listen(createHttpServer(), (_req, res) => {
      hits += 1;
      res.writeHead(302, { location: 'http://127.0.0.2:1/elsewhere', 'x-extra': 'yes' }).end();
    });
    const res = await client().send({ method: 'GET', url, what: 'GET /moved' });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-extra')).toBe('yes');
    expect(hits).toBe(1);
  });

  it("sends the client's headers, a request's own winning, and logs neither", async () => {
    let got: IncomingMessage['headers'] = {};
    const { url } = await listen(createHttpServer(), (req, res) => {
      got = req.headers;
      res.end('ok');
    });
    const logger = createMemoryLogger();
    const c = client({ headers: { 'user-agent': 'kit-test', accept: 'text/plain' }, logger });
    await c.send({
      method: 'GET',
      url,
      what: 'GET /me',
      headers: { accept: 'application/json', authorization: 'Bearer secret-token-123' },
    });
    expect(got).toMatchObject({
      'user-agent': 'kit-test',
      accept: 'application/json',
      authorization: 'Bearer secret-token-123',
    });
    expect(logger.records).toEqual([
      expect.objectContaining({ level: 'debug', obj: expect.objectContaining({ request: 'GET /me', status: 200 }) }),
    ]);
    expect(JSON.stringify(logger.records)).not.toContain('secret-token-123');
  });

  it('close() releases the pooled sockets', async () => {
    const { url, sockets } = await listen(createHttpServer(), (_req, res) => res.end('ok'));
    const c = client();
    await c.send({ method: 'GET', url, what: 'GET /' });
    expect(sockets.size).toBe(1);
    await c.close();
    await expect.poll(() => sockets.size, { timeout: 2000 }).toBe(0);
    await c.close(); // a second close (connector closed twice) is harmless
  });
});

describe('trust', () => {
  it('trusts only the configured CA, and names an untrusted certificate as upstream_error', async () => {
    const ca = await createTestCA('Kit Test CA');
    const other = await createTestCA('Other CA');
    const leaf = await ca.issue(['127.0.0.1']);
    const { url } = await listen(createHttpsServer({ cert: leaf.cert, key: leaf.key }), (_req, res) =>
      res.end('trusted'),
    );
    expect((await client({ ca: ca.caCert }).send({ method: 'GET', url, what: 'GET /' })).text).toBe('trusted');
    for (const c of [client({ ca: other.caCert }), client()]) {
      const error = await c.send({ method: 'GET', url, what: 'GET /' }).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'upstream_error',
        message: expect.stringMatching(/TLS certificate of 127\.0\.0\.1:\d+ not trusted/),
      });
    }
  });
});
