import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, SqliteStore, openStore, type StorageConfig, type Store } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openStore', () => {
  it('opens memory', async () => {
    const store = await openStore({ type: 'memory', config: {} });
    expect(store).toBeInstanceOf(MemoryStore);
    expect(store.type).toBe('memory');
    await store.close();
  });

  it('opens sqlite3 relative to baseDir, creating the parent folder', async () => {
    const store = await openStore({ type: 'sqlite3', config: { file: 'data/nested/dex.db' } }, { baseDir: dir });
    expect(store).toBeInstanceOf(SqliteStore);
    expect((store as SqliteStore).file).toBe(join(dir, 'data/nested/dex.db'));
    await store.ping();
    await store.close();
    expect(existsSync(join(dir, 'data/nested/dex.db'))).toBe(true);
  });

  it('accepts `sqlite` as another name for sqlite3', async () => {
    const store = await openStore({ type: 'sqlite', config: { file: 'alias.db' } } as unknown as StorageConfig, {
      baseDir: dir,
    });
    expect(store.type).toBe('sqlite');
    await store.close();
  });

  it('opens sqlite3 with an absolute path', async () => {
    const file = join(dir, 'abs', 'store.db');
    const store = await openStore({ type: 'sqlite3', config: { file } }, { baseDir: '/nonexistent' });
    expect((store as SqliteStore).file).toBe(file);
    await store.close();
  });

  it('reports a sqlite3 path it cannot create as a StoreError', async () => {
    const blocked = join(dir, 'blocked');
    await (await openStore({ type: 'sqlite3', config: { file: blocked } })).close();
    await expect(
      openStore({ type: 'sqlite3', config: { file: join(blocked, 'x', 'store.db') } }),
    ).rejects.toMatchObject({
      name: 'StoreError',
      code: 'unavailable',
    });
  });

  it('opens kubernetes through the loader and passes its config through', async () => {
    const seen: unknown[] = [];
    const inner = new MemoryStore();
    const store = await openStore(
      { type: 'kubernetes', config: { inCluster: false, kubeConfigFile: '/k', namespace: 'ns' } },
      { loadKubernetes: async () => ({ openKubernetesStore: async (config) => (seen.push(config), inner as Store) }) },
    );
    expect(store).toBe(inner);
    expect(seen).toEqual([{ inCluster: false, kubeConfigFile: '/k', namespace: 'ns' }]);
    await store.close();
  });

  it('rejects a loader without openKubernetesStore and an unknown type', async () => {
    await expect(
      openStore({ type: 'kubernetes', config: { inCluster: true } }, { loadKubernetes: async () => ({}) as never }),
    ).rejects.toMatchObject({ code: 'invalid' });
    await expect(openStore({ type: 'etcd', config: {} } as unknown as StorageConfig)).rejects.toMatchObject({
      code: 'invalid',
    });
  });

  it('says which package is missing when the Kubernetes backend is not resolvable', async () => {
    // storage does not depend on storage-kubernetes, so the default loader cannot find it from here.
    await expect(openStore({ type: 'kubernetes', config: { inCluster: true } })).rejects.toMatchObject({
      name: 'StoreError',
      code: 'unavailable',
      message: expect.stringContaining('@gatehouse/storage-kubernetes'),
    });
  });

  it('opens postgres through its loader (config passed through) and names the package when it is not resolvable', async () => {
    const seen: unknown[] = [];
    const inner = new MemoryStore();
    const config = {
      host: 'db',
      port: 5432,
      database: 'dex',
      ssl: { mode: 'verify-full' as const, caFile: '/ca.pem' },
    };
    const store = await openStore(
      { type: 'postgres', config },
      { loadPostgres: async () => ({ openPostgresStore: async (c) => (seen.push(c), inner as Store) }) },
    );
    expect(store).toBe(inner);
    expect(seen).toEqual([config]);
    await expect(
      openStore({ type: 'postgres', config }, { loadPostgres: async () => ({}) as never }),
    ).rejects.toMatchObject({ code: 'invalid' });
    await expect(openStore({ type: 'postgres', config })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('@gatehouse/storage-postgres'),
    });
  });
});
