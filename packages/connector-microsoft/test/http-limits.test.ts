/**
 * The transport's limits against loopback servers: an endless body is cut off past the size limit,
 * and a token POST whose connection dies after the upstream read it is never sent again (msal's
 * code redemption included), while a GET is retried once.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createMemoryLogger, expectConnectorError } from '@gatehouse/connector-kit/testing';
import { createTestCA } from '@gatehouse/testkit/tls';
import { factory } from '../src/index.ts';
import { httpRequest, MAX_BODY_BYTES } from '../src/http.ts';
import { createMsal, mapMsalError } from '../src/msal.ts';
import type { TenantMetadata } from '../src/msal.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];

async function listen(server: Server, handler: Handler): Promise<string> {
  server.on('request', handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${server instanceof tls.Server ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** Answers with `total` bytes (without a content-length), honouring backpressure; records what was written. */
function endless(total: number, sent: { bytes: number; closed: boolean }): Handler {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.on('close', () => {
      sent.closed = true;
    });
    const pump = (): void => {
      while (sent.bytes < total && !res.destroyed) {
        sent.bytes += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end();
    };
    pump();
  };
}

/** Reads the whole request body, then kills the connection the first `resets` times; answers `then` afterwards. */
function resetting(
  resets: number,
  seen: { method: string; body: string }[],
  then: (res: ServerResponse) => void,
): Handler {
  return (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', body });
      if (seen.length <= resets) {
        req.socket.destroy();
        return;
      }
      then(res);
    });
  };
}

describe('httpRequest: body size limit', () => {
  it('stops reading a 200 MiB answer past the limit with upstream_error, and drops the connection', async () => {
    const sent = { bytes: 0, closed: false };
    const url = await listen(createHttpServer(), endless(200 * 1024 * 1024, sent));
    const error = await httpRequest(`${url}/huge`, { method: 'GET', timeoutMs: 15_000, what: 'test upstream' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'upstream_error', message: expect.stringContaining(String(MAX_BODY_BYTES)) });
    await expect.poll(() => sent.closed, { timeout: 5000 }).toBe(true);
    // Socket buffers hold a few MiB at most: nowhere near the whole answer was produced.
    expect(sent.bytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('accepts an answer up to the limit', async () => {
    const sent = { bytes: 0, closed: false };
    const url = await listen(createHttpServer(), endless(MAX_BODY_BYTES, sent));
    const res = await httpRequest(url, { method: 'GET', timeoutMs: 15_000, what: 'test upstream' });
    expect(res.text.length).toBe(MAX_BODY_BYTES);
  });

  it('honours a smaller per-request limit, and is not retried', async () => {
    const seen: { method: string; body: string }[] = [];
    const url = await listen(createHttpServer(), (req, res) => {
      seen.push({ method: req.method ?? '', body: '' });
      res.end('x'.repeat(2048));
    });
    await expectConnectorError(
      httpRequest(url, { method: 'GET', timeoutMs: 5000, what: 'test upstream', maxBodyBytes: 1024 }),
      'upstream_error',
    );
    expect(seen).toHaveLength(1);
  });
});

describe('httpRequest: retries', () => {
  it('never sends a POST twice when the connection dies after the upstream read it', async () => {
    const seen: { method: string; body: string }[] = [];
    const url = await listen(
      createHttpServer(),
      resetting(1, seen, (res) => res.end('{}')),
    );
    await expectConnectorError(
      httpRequest(`${url}/token`, {
        method: 'POST',
        body: 'grant_type=authorization_code&code=once',
        timeoutMs: 5000,
        what: 'token endpoint',
      }),
      'upstream_unavailable',
    );
    expect(seen).toEqual([{ method: 'POST', body: 'grant_type=authorization_code&code=once' }]);
  });

  it('retries a GET once after a dropped connection', async () => {
    const seen: { method: string; body: string }[] = [];
    const url = await listen(
      createHttpServer(),
      resetting(1, seen, (res) => res.end('{"ok":true}')),
    );
    const res = await httpRequest(`${url}/keys`, { method: 'GET', timeoutMs: 5000, what: 'keys' });
    expect(res).toMatchObject({ status: 200, text: '{"ok":true}' });
    expect(seen.map((s) => s.method)).toEqual(['GET', 'GET']);
  });

  it('retries a POST marked idempotent (Graph reads) once, and gives up after the second failure', async () => {
    const seen: { method: string; body: string }[] = [];
    const url = await listen(
      createHttpServer(),
      resetting(5, seen, (res) => res.end('{}')),
    );
    await expectConnectorError(
      httpRequest(url, { method: 'POST', body: '{}', idempotent: true, timeoutMs: 5000, what: 'graph' }),
      'upstream_unavailable',
    );
    expect(seen).toHaveLength(2);
  });
});

describe('msal code redemption over a dropped connection', () => {
  let restoreCAs: (() => void) | undefined;
  afterAll(() => restoreCAs?.());

  it('sends the authorization code once and reports upstream_unavailable', async () => {
    const ca = await createTestCA();
    const leaf = await ca.issue(['127.0.0.1']);
    const before = tls.getCACertificates('default');
    tls.setDefaultCACertificates([...before, ca.caCert]);
    restoreCAs = () => tls.setDefaultCACertificates(before);

    const tenant = 'contoso.test';
    const seen: { method: string; body: string }[] = [];
    // A second attempt would meet a spent code, as Entra answers it.
    const base = await listen(
      createHttpsServer({ cert: leaf.cert, key: leaf.key }),
      resetting(1, seen, (res) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: 'invalid_grant',
            error_description: 'AADSTS54005: OAuth2 Authorization code was already redeemed.',
            error_codes: [54005],
          }),
        );
      }),
    );
    const config = factory.configSchema.parse({
      clientID: 'client-id',
      clientSecret: 'client-secret',
      tenant,
      apiURL: base,
      timeoutSeconds: 5,
    });
    const metadata: TenantMetadata = {
      issuer: `${base}/${tenant}/v2.0`,
      authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
      jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    };
    const session = createMsal(config, metadata, createMemoryLogger());
    const error = await session.app
      .acquireTokenByCode({
        code: 'the-code',
        scopes: ['User.Read'],
        redirectUri: 'https://issuer.test/dex/callback',
        codeVerifier: 'v'.repeat(43),
      })
      .catch((e: unknown) => e);
    expect(mapMsalError(error, session, false).code).toBe('upstream_unavailable');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body).toContain('code=the-code');
  });
});

describe('httpRequest: trust', () => {
  it('makes a certificate the trust store refuses upstream_error (a CA problem), sent once', async () => {
    const ca = await createTestCA('Untrusted CA');
    const leaf = await ca.issue(['127.0.0.1']);
    let hits = 0;
    const url = await listen(createHttpsServer({ cert: leaf.cert, key: leaf.key }), (_req, res) => {
      hits += 1;
      res.end('{}');
    });
    const error = await httpRequest(url, { method: 'GET', timeoutMs: 5000, what: 'Entra ID discovery' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'upstream_error',
      message: expect.stringMatching(/TLS certificate .* not trusted/),
    });
    expect(hits).toBe(0);
  });
});
