// Real nginx running deploy/nginx/gatehouse.conf.template in front of a real forward-auth and a recording app:
// what skip_auth_routes let through when the check comes from nginx's auth_request (always a GET subrequest).
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nginx } from '@gatehouse/testkit/nginx';
import { startForwardAuth, type RunningForwardAuth } from '../src/index.ts';
import { HOST, addr, close, listen, send, startTemplateNginx } from './nginx-client.ts';

describe('skip_auth_routes behind nginx (deploy/nginx/gatehouse.conf.template)', () => {
  let fa: RunningForwardAuth;
  let app: Server;
  let issuer: Server;
  let nginx: Nginx;
  let ca: string;
  const appSaw: { method: string; url: string }[] = [];

  beforeAll(async () => {
    app = await listen((req, res) => {
      appSaw.push({ method: req.method ?? '', url: req.url ?? '' });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`app ${req.method} ${req.url}`);
    });
    issuer = await listen((_req, res) => res.writeHead(404).end());
    fa = await startForwardAuth({
      config: {
        http_address: '127.0.0.1:0',
        oidc_issuer_url: `http://${addr(issuer)}/dex`,
        client_id: 'oauth2-proxy',
        client_secret: 'secret',
        redirect_url: `https://${HOST}/oauth2/callback`,
        cookie_secret: randomBytes(32).toString('base64'),
        email_domains: ['*'],
        reverse_proxy: true,
        skip_auth_routes: ['GET=^/public/', '^/assets/'],
      },
      logger: pino({ level: 'silent' }),
    });
    ({ nginx, ca } = await startTemplateNginx({
      forwardAuth: new URL(fa.url).host,
      issuer: addr(issuer),
      app: addr(app),
    }));
  });

  afterAll(async () => {
    await nginx?.stop();
    await fa?.close();
    await close(app);
    await close(issuer);
  });

  const go = (method: string, path: string, headers?: Record<string, string>) =>
    send(nginx.httpsPort, ca, method, path, headers);

  it('a GET-only rule lets GET through and sends every other method to sign-in', async () => {
    expect((await go('GET', '/public/x')).status).toBe(200);
    expect(appSaw.at(-1)).toEqual({ method: 'GET', url: '/public/x' });
    const before = appSaw.length;
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await go(method, '/public/x');
      expect(r.status, method).toBe(302);
      expect(r.headers.location, method).toMatch(/\/oauth2\/start\?rd=/);
    }
    expect(appSaw.length).toBe(before);
  });

  it('a client cannot claim another method with X-Forwarded-Method or X-Original-Method', async () => {
    const before = appSaw.length;
    for (const h of ['x-forwarded-method', 'x-original-method']) {
      expect((await go('POST', '/public/x', { [h]: 'GET' })).status, h).toBe(302);
    }
    expect(appSaw.length).toBe(before);
  });

  it('a rule without a method applies to every method', async () => {
    expect((await go('POST', '/assets/app.css')).status).toBe(200);
    expect(appSaw.at(-1)).toEqual({ method: 'POST', url: '/assets/app.css' });
  });

  it('dot segments, encoded dots and encoded slashes never reach the app unauthenticated', async () => {
    const before = appSaw.length;
    const hostile = [
      '/public/../admin',
      '/public/%2e%2e/admin',
      '/public/%2E%2E/admin',
      '/public/.%2e/admin',
      '/public/%2e./admin',
      '/public/..%2fadmin',
      '/public/x/../../admin',
      '/public/./../admin',
      '/public%2f..%2fadmin',
      '/public/..%5cadmin',
      '/public/..\\admin',
      '/public/%252e%252e/admin',
      '/assets/../admin',
    ];
    for (const path of hostile) {
      const r = await go('GET', path);
      expect(r.status, path).not.toBe(200);
    }
    expect(appSaw.slice(before)).toEqual([]);
  });
});
