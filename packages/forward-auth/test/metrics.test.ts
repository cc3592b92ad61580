// metrics_address: /metrics on its own listener, and then no longer on the main one.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startForwardAuth, type RunningForwardAuth } from '../src/index.ts';

const config = {
  http_address: '127.0.0.1:0',
  oidc_issuer_url: 'http://127.0.0.1:9/dex', // nothing listens: discovery fails, which only affects /ready
  client_id: 'oauth2-proxy',
  client_secret: 'secret',
  redirect_url: 'https://app.example.com/oauth2/callback',
  cookie_secret: randomBytes(32).toString('base64'),
  email_domains: ['*'],
};
const logger = pino({ level: 'silent' });
const running: RunningForwardAuth[] = [];
afterAll(async () => {
  for (const r of running) await r.close();
});

async function get(url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { method, redirect: 'manual' });
  return { status: r.status, body: await r.text() };
}

describe('metrics_address', () => {
  it('serves /metrics only on the metrics listener, which serves nothing else', async () => {
    const fa = await startForwardAuth({ config: { ...config, metrics_address: '127.0.0.1:0' }, logger });
    running.push(fa);
    expect(fa.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fa.metricsUrl).not.toBe(fa.url);
    expect((await get(`${fa.url}/metrics`)).status).toBe(404);
    expect((await get(`${fa.url}/ping`)).status).toBe(200);
    expect((await get(`${fa.url}/oauth2/auth`)).status).toBe(401);
    const m = await get(`${fa.metricsUrl}/metrics`);
    expect(m.status).toBe(200);
    expect(m.body).toContain('gatehouse_forward_auth_checks_total{code="401"} 1');
    for (const path of ['/oauth2/auth', '/oauth2/start', '/ping', '/', '/metrics/x']) {
      expect((await get(`${fa.metricsUrl}${path}`)).status, path).toBe(404);
    }
    expect((await get(`${fa.metricsUrl}/metrics`, 'POST')).status).toBe(405);
  });

  it('without it, /metrics stays on the main listener', async () => {
    const fa = await startForwardAuth({ config, logger });
    running.push(fa);
    expect(fa.metricsUrl).toBeUndefined();
    expect((await get(`${fa.url}/metrics`)).status).toBe(200);
  });

  it('a metrics port already in use fails the start and leaves nothing listening', async () => {
    const first = await startForwardAuth({ config, logger });
    running.push(first);
    const port = new URL(first.url).port;
    await expect(
      startForwardAuth({
        config: { ...config, http_address: '127.0.0.1:0', metrics_address: `127.0.0.1:${port}` },
        logger,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
