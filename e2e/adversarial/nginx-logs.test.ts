// Issue 11, item 7: nginx must not write a secret from a URL (authorization codes, id_token_hint, an app's own
// tokens) into any log, also when an upstream fails (the error log's `request:` and `referrer:` fields).
// nginx alone with the deploy template, in front of upstreams that fail in each way nginx reports.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createTCPServer, type Server as TCPServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEdgeTLS, PUBLIC_HOST, startEdge, type Edge, type EdgeTLS } from '../src/edge.ts';
import { getFreePort } from '@gatehouse/testkit/ports';
import { http1, type EdgeTarget } from './client.ts';
import { PROXY_PASS_VARIANTS } from './stack.ts';
import { defineClass } from './tally.ts';

const logs = defineClass('logs/secrets-on-upstream-failure');

const listening = async <S extends Server | TCPServer>(s: S): Promise<S> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return s;
};
const addrOf = (s: Server | TCPServer) => `127.0.0.1:${(s.address() as { port: number }).port}`;

for (const proxyPass of PROXY_PASS_VARIANTS) {
  describe(`nginx logs with failing upstreams, proxy_pass ${proxyPass}`, () => {
    let tls: EdgeTLS;
    let edge: Edge;
    let target: EdgeTarget;
    // forward-auth: the auth check says yes, everything else dies mid-request (upstream prematurely closed).
    let auth: Server;
    // The issuer: accepts and closes at once (a reset / premature close while reading the header).
    let issuer: TCPServer;

    beforeAll(async () => {
      tls = await makeEdgeTLS();
      auth = await listening(
        createServer((req, res) => {
          if (req.url === '/oauth2/auth') res.writeHead(202).end();
          else req.socket.destroy();
        }),
      );
      issuer = await listening(createTCPServer((s) => s.destroy()));
      const deadApp = await getFreePort(); // nothing listens: connect() refused
      edge = await startEdge({
        tls,
        forwardAuthAddr: addrOf(auth),
        issuerAddr: addrOf(issuer),
        appAddr: `127.0.0.1:${deadApp}`,
        appProxySecret: 'adversarial-logs-secret',
        appProxyPass: proxyPass,
      });
      target = { host: PUBLIC_HOST, port: edge.nginx.httpsPort, tls };
    });
    afterAll(async () => {
      await edge?.stop();
      await new Promise((r) => auth?.close(r));
      await new Promise((r) => issuer?.close(r));
    });

    it('no secret from a query string or a Referer reaches error.log, access.log or auth.log', async () => {
      const secrets: string[] = [];
      const secret = () => {
        const s = `SECRET${randomBytes(9).toString('hex')}`;
        secrets.push(s);
        return s;
      };
      const cases = [
        '/oauth2/callback?code=%s&state=x',
        '/dex/callback?code=%s&state=x',
        '/dex/session/end?id_token_hint=%s',
        '/dex/auth?login_hint=%s',
        '/app/page?access_token=%s',
        '/app/x%3F?token=%s',
      ];
      for (const path of cases) {
        for (const via of ['query', 'referer', 'both'] as const) {
          const q = via === 'referer' ? 'nothing' : secret();
          const headers: Record<string, string> =
            via === 'query' ? {} : { referer: `https://${PUBLIC_HOST}/oauth2/callback?code=${secret()}` };
          const res = await http1(target, path.replace('%s', q), { headers });
          logs.check(
            `${path} (secret in ${via}) upstream fails`,
            'failed',
            res.status >= 500 ? 'failed' : `status-${res.status}`,
          );
        }
      }
      await new Promise((r) => setTimeout(r, 200)); // nginx writes access lines in the log phase
      const written =
        (await edge.nginx.readLog('error.log')) +
        (await edge.nginx.readLog('access.log')) +
        (await edge.nginx.readLog('auth.log'));
      for (const s of secrets)
        logs.check(`secret ${s.slice(0, 12)}… not logged`, 'not-logged', written.includes(s) ? 'LOGGED' : 'not-logged');
      // The failures stay diagnosable from the access log: path, status and the upstream's status.
      const access = await edge.nginx.readLog('access.log');
      expect(access).toMatch(/"GET \/oauth2\/callback" 502 .* us=502/);
      expect(access).toMatch(/"GET \/dex\/callback" 502 /);
    });
  });
}
