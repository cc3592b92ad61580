// Request smuggling through nginx: framing tricks (CL+TE, duplicate or odd Content-Length, Transfer-Encoding
// variants, obs-fold, bare LF, chunk-size and trailer tricks, Upgrade) with a request to a protected path hidden
// in the body. Whatever nginx makes of the bytes, the app must never receive that inner request (nor any
// request) without the auth check: the app records every request it parses, of any method, by case id, and a
// second connection sends follow-ups so that a desynchronised upstream keep-alive connection would show.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { closeClients, http1, rawExchange } from './client.ts';
import { CASE_HEADER, PROXY_PASS_VARIANTS, startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const smuggling = defineClass('smuggling/through-nginx');

/** The hidden request: a protected path, no session. */
const inner = (host: string, id: string) =>
  `GET /private/secret HTTP/1.1\r\nHost: ${host}\r\n${CASE_HEADER}: ${id}\r\n\r\n`;

interface Framing {
  name: string;
  /** Header lines (each ending in CRLF unless the case is about line endings) and the body, given the inner request. */
  build(smuggled: string): { headers: string; body: string };
}

function framings(): Framing[] {
  const out: Framing[] = [];
  const chunked0 = '0\r\n\r\n';
  const te = [
    'chunked',
    'Chunked',
    'CHUNKED',
    ' chunked',
    'chunked ',
    '\tchunked',
    'chunked, identity',
    'identity, chunked',
    'gzip, chunked',
    'xchunked',
    'chunked;x=1',
    '"chunked"',
    'chunk',
    '\u000bchunked',
  ];
  for (const v of te) {
    // TE wins (the body is the 0-chunk), the smuggled request follows as far as a CL-reader is concerned.
    out.push({
      name: `CL+TE ${JSON.stringify(v)} (CL covers the inner request)`,
      build: (s) => ({
        headers: `Content-Length: ${chunked0.length + s.length}\r\nTransfer-Encoding: ${v}\r\n`,
        body: chunked0 + s,
      }),
    });
    out.push({
      name: `TE+CL ${JSON.stringify(v)} (CL stops short)`,
      build: (s) => ({
        headers: `Transfer-Encoding: ${v}\r\nContent-Length: 4\r\n`,
        body: `${s.length.toString(16)}\r\n${s}\r\n${chunked0}`,
      }),
    });
    out.push({
      name: `TE only ${JSON.stringify(v)}, inner after the 0-chunk`,
      build: (s) => ({ headers: `Transfer-Encoding: ${v}\r\n`, body: chunked0 + s }),
    });
  }
  for (const [a, b] of [
    ['chunked', 'identity'],
    ['identity', 'chunked'],
    ['chunked', 'chunked'],
  ]) {
    out.push({
      name: `two TE headers ${a} / ${b}`,
      build: (s) => ({
        headers: `Transfer-Encoding: ${a}\r\nTransfer-Encoding: ${b}\r\nContent-Length: ${chunked0.length + s.length}\r\n`,
        body: chunked0 + s,
      }),
    });
  }
  out.push({
    name: 'TE obs-folded',
    build: (s) => ({
      headers: `Transfer-Encoding:\r\n chunked\r\nContent-Length: ${chunked0.length + s.length}\r\n`,
      body: chunked0 + s,
    }),
  });
  out.push({
    name: 'TE behind an obs-folded header',
    build: (s) => ({
      headers: `X-Harmless: a\r\n Transfer-Encoding: chunked\r\nContent-Length: ${chunked0.length + s.length}\r\n`,
      body: chunked0 + s,
    }),
  });
  out.push({
    name: 'TE with a space before the colon',
    build: (s) => ({
      headers: `Transfer-Encoding : chunked\r\nContent-Length: ${chunked0.length + s.length}\r\n`,
      body: chunked0 + s,
    }),
  });
  for (const [a, b] of [
    ['0', 'N'],
    ['N', '0'],
    ['4', 'N'],
  ]) {
    out.push({
      name: `two Content-Length ${a} / ${b}`,
      build: (s) => ({
        headers: `Content-Length: ${a === 'N' ? s.length : a}\r\nContent-Length: ${b === 'N' ? s.length : b}\r\n`,
        body: s,
      }),
    });
  }
  for (const v of ['0, N', 'N, 0', '+N', '-1', '0x10', ' N', 'N ', '0N', 'N.0', '99999999999999999999', '1e2']) {
    out.push({
      name: `Content-Length ${JSON.stringify(v)}`,
      build: (s) => ({ headers: `Content-Length: ${v.replace('N', String(s.length))}\r\n`, body: s }),
    });
  }
  // Chunk-size and chunk-line tricks: a parser that reads the size differently ends the body elsewhere.
  for (const size of ['0', '00', '0;ext', '0 ', '0\t', '-0', '+0', '0x0', '000000000000000000000000000000000']) {
    out.push({
      name: `chunk size ${JSON.stringify(size)} then the inner request`,
      build: (s) => ({ headers: 'Transfer-Encoding: chunked\r\n', body: `${size}\r\n\r\n${s}` }),
    });
  }
  out.push({
    name: 'chunk with a bare LF',
    build: (s) => ({ headers: 'Transfer-Encoding: chunked\r\n', body: `${s.length.toString(16)}\n${s}\n0\n\n` }),
  });
  out.push({
    name: 'inner request in a chunk trailer',
    build: (s) => ({ headers: 'Transfer-Encoding: chunked\r\n', body: `0\r\n${s}` }),
  });
  out.push({
    name: 'oversized chunk length (wraps)',
    build: (s) => ({ headers: 'Transfer-Encoding: chunked\r\n', body: `ffffffffffffffff1\r\n${s}\r\n0\r\n\r\n` }),
  });
  // Requests whose body a backend might not expect.
  out.push({
    name: 'GET with a body that is a request',
    build: (s) => ({ headers: `Content-Length: ${s.length}\r\n`, body: s }),
  });
  out.push({
    name: 'Upgrade: websocket with the inner request after',
    build: (s) => ({
      headers:
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
      body: s,
    }),
  });
  out.push({
    name: 'Upgrade: h2c with the inner request after',
    build: (s) => ({
      headers: 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n',
      body: s,
    }),
  });
  out.push({
    name: 'Expect: 100-continue then the inner request',
    build: (s) => ({ headers: 'Expect: 100-continue\r\nContent-Length: 0\r\n', body: s }),
  });
  return out;
}

for (const proxyPass of PROXY_PASS_VARIANTS) {
  describe(`request smuggling, proxy_pass ${proxyPass}`, () => {
    let stack: AdversarialStack;
    beforeAll(async () => {
      // /public/ is skipped for every method, so the outer request (and its body) reaches the app.
      stack = await startAdversarialStack({ proxyPass, forwardAuth: { skip_auth_routes: ['^/public/'] } });
    });
    afterAll(async () => {
      if (stack) closeClients(stack);
      await stack?.stop();
    });

    it('the app never receives a request that nginx did not check', async () => {
      const host = `${stack.host}:${stack.port}`;
      // Control: a plainly pipelined inner request to a skipped path is checked by nginx and reaches the app, so
      // the detector below sees inner requests when they arrive.
      const control = stack.caseId();
      await rawExchange(
        stack,
        `GET /public/outer HTTP/1.1\r\nHost: ${host}\r\n\r\n${inner(host, control).replace('/private/secret', '/public/inner')}`,
        600,
      );
      smuggling.check(
        'control: pipelined request to a skipped path',
        'control-seen',
        stack.appSaw(control).length === 1 ? 'control-seen' : 'DETECTOR-BLIND',
      );
      for (const f of framings()) {
        for (const method of ['POST', 'GET']) {
          const id = stack.caseId();
          const smuggledId = `${id}-inner`;
          const { headers, body } = f.build(inner(host, smuggledId));
          const bytes = `${method} /public/outer HTTP/1.1\r\nHost: ${host}\r\n${CASE_HEADER}: ${id}\r\n${headers}\r\n${body}`;
          const { responses } = await rawExchange(stack, bytes, 600);
          // Follow-ups on nginx's other connections: a poisoned upstream connection would hand them a smuggled prefix.
          const followups = await Promise.all(
            [1, 2, 3].map((n) => http1(stack, '/public/followup', { headers: { [CASE_HEADER]: `${id}-follow${n}` } })),
          );
          const smuggled = stack.appSaw(smuggledId);
          const followupsOk = followups.every(
            (r, i) => r.status === 200 && stack.appSaw(`${id}-follow${i + 1}`).length === 1,
          );
          const outer = stack.appSaw(id);
          const innerAuthRequired = responses.slice(1).every((r) => r.status === 302 || r.status >= 400);
          let outcome: string;
          if (smuggled.length > 0) outcome = 'SMUGGLED';
          else if (!followupsOk) outcome = 'DESYNC';
          else if (!innerAuthRequired) outcome = 'INNER-ANSWERED';
          else
            outcome =
              outer.length === 0
                ? 'refused-by-nginx'
                : responses.length > 1
                  ? 'inner-checked-by-nginx'
                  : 'body-stayed-body';
          smuggling.check(
            `${method} ${f.name}`,
            ['refused-by-nginx', 'inner-checked-by-nginx', 'body-stayed-body'],
            outcome,
            `responses ${JSON.stringify(responses.map((r) => r.status))}, app saw outer ${outer.length}, inner ${smuggled.length}`,
          );
        }
      }
    });
  });
}
