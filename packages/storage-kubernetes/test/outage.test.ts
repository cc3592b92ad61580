/**
 * API-server outages: every call fails fast with StoreError('unavailable') (never a hang or a
 * crash), and the same store — and its watch — recovers when the server is back.
 */
import { randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError, type ChangeEvent, type OAuth2Client } from '@gatehouse/storage';
import { kubeconfigJSON, type KubeCluster } from '@gatehouse/testkit/kube';
import { openKubernetesStore, type KubernetesStore } from '../src/index.ts';
import { freshNamespace, kubeAvailable, kubeRestartable, openTestStore, quietLogger, testKube } from './kube-env.ts';

const newId = (): string => randomBytes(32).toString('base64url');
const TIMEOUT_MS = 3_000;

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The error a call rejects with, and how long it took. */
async function failure(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  return { error: undefined, ms: Date.now() - started };
}

describe.skipIf(!kubeAvailable || !kubeRestartable)('API server outage', () => {
  let kube: KubeCluster;
  let namespace: string;
  let store: KubernetesStore;

  beforeAll(async () => {
    kube = await testKube();
    namespace = await freshNamespace(kube, 'outage');
    store = await openTestStore(kube, namespace, { requestTimeoutMs: TIMEOUT_MS });
  });

  afterAll(async () => {
    await kube?.startApiServer().catch(() => {});
    await store?.close();
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  it('fails every call with StoreError unavailable while the server is down, then recovers without reopening', async () => {
    const codes = store.model('AuthorizationCode');
    const id = newId();
    await codes.upsert(id, { jti: id, clientId: 'c', accountId: 'u' }, 600);
    const events: ChangeEvent<OAuth2Client>[] = [];
    const stop = store.clients.watch((e) => events.push(e));
    const spare = newId();
    try {
      await kube.stopApiServer();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['find', () => codes.find(id)],
        ['consume', () => store.model('AuthorizationCode').consume(newId())],
        ['upsert', () => codes.upsert(spare, { jti: spare }, 600)],
        ['revokeByGrantId', () => codes.revokeByGrantId('g')],
        ['findByUid', () => store.model('Session').findByUid('u')],
        ['gc', () => store.gc()],
        ['ping', () => store.ping()],
        ['keys.get', () => store.keys.get()],
        ['clients.get', () => store.clients.get('c')],
        ['clients.list', () => store.clients.list()],
        ['passwords.upsert', () => store.passwords.upsert({ email: 'a@b.c', hash: 'h', username: 'a', userId: '1' })],
        ['offlineSessions.get', () => store.offlineSessions.get('u', 'c')],
      ];
      for (const [name, call] of calls) {
        const { error, ms } = await failure(call);
        expect(error, name).toBeInstanceOf(StoreError);
        expect((error as StoreError).code, name).toBe('unavailable');
        expect(ms, name).toBeLessThan(TIMEOUT_MS * 2 + 1000);
      }

      await kube.startApiServer();
      // Same store object: the keep-alive agent reconnects.
      expect(await eventually(async () => (await codes.find(id))?.jti === id, 30_000)).toBe(true);
      expect(await codes.consume(id)).toBe(true);
      await store.ping();

      // The watch reconnected on its own: a client applied now is seen.
      const clientId = `after-outage-${randomBytes(3).toString('hex')}`;
      const manifest = {
        apiVersion: 'gatehouse.dev/v1',
        kind: 'OAuth2Client',
        metadata: { name: clientId, namespace },
        spec: { id: clientId, redirectURIs: ['https://app.example.com/cb'] },
      };
      expect((await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) })).code).toBe(0);
      expect(
        await eventually(async () => events.some((e) => e.type === 'upsert' && e.record.id === clientId), 20_000),
      ).toBe(true);
    } finally {
      stop();
    }
  });

  it('a restart in the middle of concurrent traffic surfaces only unavailable errors, and traffic resumes', async () => {
    const tokens = store.model('AccessToken');
    const errors: unknown[] = [];
    let ok = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        const id = newId();
        try {
          await tokens.upsert(id, { jti: id }, 60);
          await tokens.find(id);
          ok++;
        } catch (error) {
          errors.push(error);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await kube.restart();
    const okAfterRestart = ok;
    expect(await eventually(async () => ok > okAfterRestart + 5, 30_000)).toBe(true);
    running = false;
    await traffic;
    for (const error of errors) {
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('unavailable');
    }
  });
});

describe.skipIf(!kubeAvailable)('a server that accepts connections but never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let dir: string;

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-silent-'));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('openKubernetesStore gives up within the request timeout with StoreError unavailable', async () => {
    const kube = await testKube();
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfigJSON(`https://127.0.0.1:${port}`, kube.caPem, 'token', 'default'));
    const { error, ms } = await failure(() =>
      openKubernetesStore({ inCluster: false, kubeConfigFile: file }, { logger: quietLogger, requestTimeoutMs: 500 }),
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('unavailable');
    expect((error as StoreError).message).toContain('timed out');
    expect(ms).toBeLessThan(3000);
  });
});
