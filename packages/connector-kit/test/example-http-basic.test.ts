import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConnectorConformance, createMemoryLogger } from '@gatehouse/connector-kit/testing';
import { loopbackServer } from './loopback-server.ts';
import { factory } from '../examples/http-basic/index.ts';

/** A tiny user service: the example connector's upstream. */
interface User {
  id: string;
  login: string;
  password: string;
  email: string;
  groups: string[];
}
const users = new Map<string, User>([
  ['ada', { id: '1001', login: 'ada', password: 'correct horse', email: 'ada@example.com', groups: ['admins', 'dev'] }],
]);
const serviceToken = 'service-token-for-tests';
let mode: 'ok' | 'error500' | 'hang' = 'ok';
let upstreamCalls = 0;

function handle(req: IncomingMessage, res: ServerResponse): void {
  upstreamCalls += 1;
  if (mode === 'hang') return; // never answers
  if (mode === 'error500') {
    res.writeHead(500).end('boom');
    return;
  }
  const auth = req.headers.authorization ?? '';
  const json = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (req.url === '/user' && auth.startsWith('Basic ')) {
    const [login, password] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
    const user = users.get(login ?? '');
    if (!user || user.password !== password || password === '') return void json(401, { error: 'bad credentials' });
    return void json(200, { id: user.id, login: user.login, email: user.email, groups: user.groups });
  }
  const m = /^\/users\/([^/]+)$/.exec(req.url ?? '');
  if (m && auth === `Bearer ${serviceToken}`) {
    const user = [...users.values()].find((u) => u.id === decodeURIComponent(m[1] ?? ''));
    if (!user) return void json(404, { error: 'not found' });
    return void json(200, { id: user.id, login: user.login, email: user.email, groups: user.groups });
  }
  json(401, { error: 'unauthorized' });
}

const upstream = loopbackServer(handle);

beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

let removed: User | undefined;

runConnectorConformance({
  name: 'example-http-basic',
  factory,
  config: () => ({ url: `http://127.0.0.1:${upstream.port}`, serviceToken, timeoutMs: 1000 }),
  invalidConfigs: [
    { config: { serviceToken }, path: 'url' },
    { config: { url: 'ftp://x', serviceToken }, path: 'url' },
    { config: { url: 'https://users.example.com' }, path: 'serviceToken' },
    { config: { url: 'https://users.example.com', serviceToken, extra: 1 }, path: '' },
  ],
  password: { username: 'ada', password: 'correct horse' },
  identity: {
    expectGroups: true,
    check: (identity) => {
      expect(identity.userId).toBe('1001');
      expect(identity.groups).toEqual(['admins', 'dev']);
    },
  },
  refresh: {
    removeUser: () => {
      removed = users.get('ada');
      users.delete('ada');
    },
    restoreUser: () => {
      if (removed) users.set('ada', removed);
    },
  },
  faults: [
    { name: 'the upstream is down', set: () => upstream.stop(), clear: () => upstream.start() },
    {
      name: 'the upstream answers 500',
      set: () => void (mode = 'error500'),
      clear: () => void (mode = 'ok'),
      code: 'upstream_error',
    },
    { name: 'the upstream hangs', set: () => void (mode = 'hang'), clear: () => void (mode = 'ok') },
  ],
});

describe('example-http-basic specifics', () => {
  it('refuses users outside requiredGroups with not_in_required_groups', async () => {
    const config = factory.configSchema.parse({
      url: `http://127.0.0.1:${upstream.port}`,
      serviceToken,
      requiredGroups: ['ops'],
    });
    const logger = createMemoryLogger();
    const c = await factory.open('x', config, {
      logger,
      issuerURL: 'https://i.test',
      callbackURL: 'https://i.test/callback',
    });
    if (c.kind !== 'password') throw new Error('expected a password connector');
    await expect(c.login({ offlineAccess: false, groups: true }, 'ada', 'correct horse')).rejects.toMatchObject({
      code: 'not_in_required_groups',
    });
    expect(JSON.stringify(logger.records)).not.toContain('correct horse');
  });

  it('never sends an empty password upstream', async () => {
    const config = factory.configSchema.parse({ url: `http://127.0.0.1:${upstream.port}`, serviceToken });
    const c = await factory.open('x', config, {
      logger: createMemoryLogger(),
      issuerURL: 'https://i.test',
      callbackURL: 'https://i.test/callback',
    });
    if (c.kind !== 'password') throw new Error('expected a password connector');
    const before = upstreamCalls;
    expect(await c.login({ offlineAccess: false, groups: false }, 'ada', '')).toEqual({ ok: false });
    expect(upstreamCalls).toBe(before);
  });

  it('warns about plain http', () => {
    const config = factory.configSchema.parse({ url: 'http://127.0.0.1:1', serviceToken });
    expect(factory.warnings?.(config)).toEqual([expect.stringContaining('plain http')]);
  });
});
