import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';
import { parseListenAddress, startTelemetryServer } from './server.ts';
import type { TelemetryServer } from './server.ts';

let server: TelemetryServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('telemetry server', () => {
  it('serves /metrics with the issuer counters and process metrics', async () => {
    const metrics = createMetrics({ version: '1.2.3' });
    metrics.recordLogin('mock', 'success');
    metrics.recordLogin('mock', 'success');
    metrics.recordLogin('ldap', 'failure');
    metrics.recordTokenIssued('authorization_code');
    server = await startTelemetryServer('127.0.0.1:0', { ready: async () => {}, registry: metrics.registry });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    expect(body).toContain('gatehouse_logins_total{connector="mock",result="success"} 2');
    expect(body).toContain('gatehouse_logins_total{connector="ldap",result="failure"} 1');
    expect(body).toContain('gatehouse_tokens_issued_total{grant_type="authorization_code"} 1');
    expect(body).toContain('gatehouse_build_info{version="1.2.3"');
    expect(body).toContain('process_cpu_user_seconds_total');
    expect(body).toContain('nodejs_eventloop_lag_seconds');
  });

  it('answers /healthz always and /readyz according to ready()', async () => {
    let healthy = true;
    server = await startTelemetryServer('127.0.0.1:0', {
      ready: async () => {
        if (!healthy) throw new Error('store unreachable: password=hunter2');
      },
    });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz/live`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    healthy = false;
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    const body = await notReady.text();
    expect(body).toBe('{"status":"unavailable"}');
    expect((await fetch(`${server.url}/healthz/ready`)).status).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('treats a hanging ready() as not ready, within the timeout', async () => {
    server = await startTelemetryServer('127.0.0.1:0', { ready: () => new Promise(() => {}), readyTimeoutMs: 100 });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it('answers bad requests with 404/405, never 500', async () => {
    server = await startTelemetryServer('127.0.0.1:0', { ready: async () => {} });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404); // no registry given
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/%zz`)).status).toBe(404);
    const post = await fetch(`${server.url}/healthz`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('refuses an occupied port and a malformed address', async () => {
    server = await startTelemetryServer('127.0.0.1:0', { ready: async () => {} });
    const port = new URL(server.url).port;
    await expect(startTelemetryServer(`127.0.0.1:${port}`, { ready: async () => {} })).rejects.toThrow(/EADDRINUSE/);
    await expect(startTelemetryServer('nope', { ready: async () => {} })).rejects.toThrow(/invalid listen address/);
  });

  it('parses listen addresses', () => {
    expect(parseListenAddress('127.0.0.1:5558')).toEqual({ host: '127.0.0.1', port: 5558 });
    expect(parseListenAddress(':5558')).toEqual({ host: undefined, port: 5558 });
    expect(parseListenAddress('[::1]:5558')).toEqual({ host: '::1', port: 5558 });
    expect(() => parseListenAddress('127.0.0.1:70000')).toThrow();
  });
});
