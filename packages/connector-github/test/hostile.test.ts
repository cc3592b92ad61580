/**
 * A misbehaving API server (not the fake GitHub): pagination links that leave the API or loop,
 * and oversized answers. The token must never leave the configured API, and nothing may hang.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expectConnectorError } from '@gatehouse/connector-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitHubApi } from '../src/api.ts';
import { GitHubHttp } from '../src/http.ts';
import { createMemoryLogger } from '@gatehouse/connector-kit/testing';

let base = '';
const seen: Array<{ path: string; auth: string | undefined; host: string | undefined }> = [];
const server = createServer((req, res) => {
  seen.push({ path: req.url ?? '', auth: req.headers.authorization, host: req.headers.host });
  const url = new URL(req.url ?? '/', base);
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/api/user/teams' && url.searchParams.get('mode') !== 'loop') {
    // First page points the "next" link at another origin.
    res.setHeader('link', '<http://127.0.0.2:1/steal?page=2>; rel="next"');
    res.end('[]');
    return;
  }
  if (url.pathname === '/api/user/orgs') {
    // Every page links to itself: an endless list.
    res.setHeader('link', `<${base}/api/user/orgs?per_page=100&page=2>; rel="next"`);
    res.end('[{"login":"x"}]');
    return;
  }
  if (url.pathname === '/api/user/emails') {
    // An answer far larger than any real one.
    res.write('[');
    const row = '{"email":"x@example.com","verified":true,"primary":false},'.repeat(1000);
    for (let i = 0; i < 100; i++) res.write(row);
    res.end('{"email":"y@example.com","verified":true,"primary":true}]');
    return;
  }
  if (url.pathname === '/api/user') {
    res.end('{"id":"not-a-number","login":""}');
    return;
  }
  res.statusCode = 404;
  res.end('{"message":"Not Found"}');
});

let http: GitHubHttp;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  http = new GitHubHttp({ timeoutMs: 2000, logger: createMemoryLogger() });
});
afterAll(async () => {
  await http.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('github API client against a hostile server', () => {
  it('refuses a next-page link that leaves the API origin, without sending the token there', async () => {
    const api = new GitHubApi(http, `${base}/api`, 'gho_secret_token', 'upstream_error', createMemoryLogger());
    await expectConnectorError(api.teams(), 'upstream_error');
    expect(seen.every((s) => s.host === new URL(base).host)).toBe(true);
  });

  it('stops an endless Link chain after a bounded number of pages', async () => {
    const api = new GitHubApi(http, `${base}/api`, 'gho_secret_token', 'upstream_error', createMemoryLogger());
    const before = seen.length;
    await expectConnectorError(api.orgs(), 'upstream_error');
    expect(seen.length - before).toBeLessThanOrEqual(100);
  });

  it('refuses an oversized answer', async () => {
    const api = new GitHubApi(http, `${base}/api`, 'gho_secret_token', 'upstream_error', createMemoryLogger());
    const error = await api.emails().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_error' });
    expect((error as Error).message).toMatch(/exceeds/);
  });

  it('refuses a /user answer of the wrong shape', async () => {
    const api = new GitHubApi(http, `${base}/api`, 'gho_secret_token', 'upstream_error', createMemoryLogger());
    await expectConnectorError(api.user(), 'upstream_error');
  });
});
