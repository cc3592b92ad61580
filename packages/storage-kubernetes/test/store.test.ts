/** Kubernetes-specific behaviour of the CRD store, against the real API server. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError, type ChangeEvent, type OAuth2Client } from '@gatehouse/storage';
import type { KubeCluster } from '@gatehouse/testkit/kube';
import { nameFor, type KubernetesStore } from '../src/index.ts';
import { freshNamespace, kubeAvailable, openTestStore, testKube } from './kube-env.ts';
import { CRD_DIR } from './kube-global-setup.ts';

const newId = (): string => randomBytes(32).toString('base64url');

function codePayload(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return {
    jti: id,
    iat,
    exp: iat + 600,
    kind: 'AuthorizationCode',
    clientId: 'kubectl-client',
    accountId: 'alice',
    grantId: newId(),
    ...extra,
  };
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!kubeAvailable)('kubernetes store on a real API server', () => {
  let kube: KubeCluster;
  let namespace: string;
  let store: KubernetesStore;

  beforeAll(async () => {
    kube = await testKube();
    namespace = await freshNamespace(kube, 'store');
    store = await openTestStore(kube, namespace);
  });

  afterAll(async () => {
    await store?.close();
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  it('kubectl get authcodes lists a code the store wrote; the object holds a hash, never the code', async () => {
    const id = newId();
    await store.model('AuthorizationCode').upsert(id, codePayload(id), 600);

    const table = await kube.kubectl(['get', 'authcodes', '-n', namespace]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(nameFor(id));
    expect(table.stdout).toMatch(/CLIENT\s+USER\s+EXPIRES/);
    expect(table.stdout).toContain('kubectl-client');

    const json = await kube.kubectl(['get', 'authcode', nameFor(id), '-n', namespace, '-o', 'json']);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toContain(id); // the code is a bearer secret
    const object = JSON.parse(json.stdout) as {
      metadata: { name: string; labels: Record<string, string> };
      spec: Record<string, unknown>;
    };
    expect(object.metadata.name).toMatch(/^[0-9a-f]{40}$/);
    expect(object.metadata.labels['gatehouse.dev/expires']).toBe('true');
    expect(object.spec.jtiIsId).toBe(true);
    expect((await store.model('AuthorizationCode').find(id))?.jti).toBe(id);
  });

  it('names stay bounded and DNS-safe for ids of any length and alphabet', async () => {
    const ids = ['x', 'A'.repeat(2000), 'ünïcødé/../..?#%', 'UPPER_case-ID.with.dots'];
    for (const id of ids) {
      expect(nameFor(id)).toMatch(/^[0-9a-f]{40}$/);
      await store.model('Grant').upsert(id, { jti: id, accountId: 'bob', clientId: 'c' }, 60);
      expect((await store.model('Grant').find(id))?.jti).toBe(id);
      await store.model('Grant').destroy(id);
    }
  });

  it('find re-checks the full id hash: a different id never reads another record', async () => {
    const id = newId();
    await store.model('AccessToken').upsert(id, codePayload(id), 600);
    // Tamper: put another id's hash into the object; the name still matches, the hash does not.
    const patch = JSON.stringify({ spec: { idHash: 'f'.repeat(64) } });
    const res = await kube.kubectl(['patch', 'accesstoken', nameFor(id), '-n', namespace, '--type=merge', '-p', patch]);
    expect(res.code).toBe(0);
    expect(await store.model('AccessToken').find(id)).toBeUndefined();
    expect(await store.model('AccessToken').consume(id)).toBe(false);
  });

  it('20 concurrent consumes over two store instances (cold caches): exactly one true', async () => {
    const other = await openTestStore(kube, namespace);
    try {
      for (let trial = 0; trial < 3; trial++) {
        const id = newId();
        await store.model('AuthorizationCode').upsert(id, codePayload(id), 600);
        const fresh = await openTestStore(kube, namespace); // no cached resourceVersion at all
        const stores = [store, other, fresh];
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => stores[i % 3]!.model('AuthorizationCode').consume(id)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await other.model('AuthorizationCode').find(id))?.consumed).toBeTypeOf('number');
        await fresh.close();
      }
    } finally {
      await other.close();
    }
  });

  it('a replace between find and consume still lets exactly one consume win', async () => {
    const id = newId();
    const codes = store.model('AuthorizationCode');
    await codes.upsert(id, codePayload(id), 600);
    await codes.find(id); // caches the resourceVersion
    const other = await openTestStore(kube, namespace);
    try {
      await other.model('AuthorizationCode').upsert(id, codePayload(id, { scope: 'openid' }), 600); // stale cache now
      expect(await codes.consume(id)).toBe(true);
      expect(await other.model('AuthorizationCode').consume(id)).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('gc deletes 2,000 expired records of one kind across several pages (continue tokens), keeping live ones', async () => {
    const gcNamespace = await freshNamespace(kube, 'gc');
    const gcStore = await openTestStore(kube, gcNamespace, { gcPageSize: 300 });
    try {
      const codes = gcStore.model('AuthorizationCode');
      const live = newId();
      await codes.upsert(live, codePayload(live), 600);
      const ids = Array.from({ length: 2000 }, () => newId());
      for (let i = 0; i < ids.length; i += 50) {
        await Promise.all(ids.slice(i, i + 50).map((id) => codes.upsert(id, codePayload(id), -1)));
      }
      const before = gcStore.requestCount;
      expect(await gcStore.gc()).toBe(2000);
      // ≥ 7 list pages of 300 for today's bucket of this kind, one request per delete.
      expect(gcStore.requestCount - before).toBeGreaterThanOrEqual(2000 + 7);
      expect(await gcStore.gc()).toBe(0);
      expect(await codes.find(live)).toBeDefined();
      const left = await kube.kubectl(['get', 'authcodes', '-n', gcNamespace, '-o', 'name']);
      expect(left.stdout.trim().split('\n')).toEqual([`authcode.gatehouse.dev/${nameFor(live)}`]);
    } finally {
      await gcStore.close();
      await kube.kubectl(['delete', 'namespace', gcNamespace, '--wait=false']);
    }
  });

  it('gc finds expired records of past days and today by label, and keeps records living beyond its window', async () => {
    const gcNamespace = await freshNamespace(kube, 'gcdays');
    const gcStore = await openTestStore(kube, gcNamespace);
    try {
      const tokens = gcStore.model('RefreshToken');
      const [old, older, todayExpired, live, veryLong, forever] = [
        newId(),
        newId(),
        newId(),
        newId(),
        newId(),
        newId(),
      ];
      await tokens.upsert(old, codePayload(old), -2 * 86_400);
      await tokens.upsert(older, codePayload(older), -900 * 86_400);
      await tokens.upsert(todayExpired, codePayload(todayExpired), -1);
      await tokens.upsert(live, codePayload(live), 600);
      await tokens.upsert(veryLong, codePayload(veryLong), 500 * 86_400); // beyond the 400-day window
      await tokens.upsert(forever, codePayload(forever));
      expect(await gcStore.gc()).toBe(3);
      for (const id of [live, veryLong, forever]) expect(await tokens.find(id)).toBeDefined();
      const left = await kube.kubectl(['get', 'refreshtokens', '-n', gcNamespace, '-o', 'name']);
      expect(left.stdout.trim().split('\n').sort()).toEqual(
        [live, veryLong, forever].map((id) => `refreshtoken.gatehouse.dev/${nameFor(id)}`).sort(),
      );
    } finally {
      await gcStore.close();
      await kube.kubectl(['delete', 'namespace', gcNamespace, '--wait=false']);
    }
  });

  it('the API server validates specs against the CRD schema (422 → StoreError invalid never reached by good input)', async () => {
    const bad = JSON.stringify({
      apiVersion: 'gatehouse.dev/v1',
      kind: 'AuthCode',
      metadata: { name: 'bad', namespace },
      spec: { idHash: 'not-a-hash', payload: '{}' },
    });
    const res = await kube.kubectl(['apply', '-f', '-'], { input: bad });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/idHash/);
  });

  describe('OAuth2Client and Connector resources applied with kubectl', () => {
    function clientYaml(name: string, spec: Record<string, unknown>): string {
      return JSON.stringify({
        apiVersion: 'gatehouse.dev/v1',
        kind: 'OAuth2Client',
        metadata: { name, namespace },
        spec,
      });
    }

    it('a client applied with kubectl is seen by clients.watch and clients.get within 2 s; a delete at once', async () => {
      const events: ChangeEvent<OAuth2Client>[] = [];
      const stop = store.clients.watch((e) => events.push(e));
      try {
        const clientId = `kubectl-app-${randomBytes(3).toString('hex')}`;
        const spec = {
          id: clientId,
          secret: 's3cret',
          redirectURIs: ['https://app.example.com/callback'],
          name: 'Kubectl App',
        };
        const applied = await kube.kubectl(['apply', '-f', '-'], { input: clientYaml('my-app', spec) });
        expect(applied.code, applied.stderr).toBe(0);
        const appliedAt = Date.now();
        expect(await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === clientId), 2000)).toBe(
          true,
        );
        expect(Date.now() - appliedAt).toBeLessThan(2000);
        expect(await store.clients.get(clientId)).toEqual(spec);
        expect((await store.clients.list()).map((c) => c.id)).toContain(clientId);

        // The Valid condition is written through the status subresource.
        expect(
          await eventually(async () => {
            const r = await kube.kubectl([
              'get',
              'oauth2client',
              'my-app',
              '-n',
              namespace,
              '-o',
              'jsonpath={.status.conditions[?(@.type=="Valid")].status}',
            ]);
            return r.stdout === 'True';
          }, 5000),
        ).toBe(true);

        // An update through the store lands on the kubectl-named object, not a duplicate.
        await store.clients.upsert({ ...spec, name: 'Renamed' });
        const names = await kube.kubectl(['get', 'oauth2clients', '-n', namespace, '-o', 'name']);
        expect(names.stdout.trim().split('\n')).toEqual(['oauth2client.gatehouse.dev/my-app']);

        const deleted = await kube.kubectl(['delete', 'oauth2client', 'my-app', '-n', namespace]);
        expect(deleted.code).toBe(0);
        expect(await eventually(() => events.some((e) => e.type === 'delete' && e.id === clientId), 2000)).toBe(true);
        expect(await store.clients.get(clientId)).toBeUndefined();
      } finally {
        stop();
      }
    });

    it('an invalid client gets Valid=False with the reason, is never served, and the watch keeps working', async () => {
      const events: ChangeEvent<OAuth2Client>[] = [];
      const stop = store.clients.watch((e) => events.push(e));
      try {
        const badId = `bad-${randomBytes(3).toString('hex')}`;
        const bad = clientYaml('bad-client', {
          id: badId,
          redirectURIs: ['not a url', 'https://ok.example.com/cb#frag'],
        });
        expect((await kube.kubectl(['apply', '-f', '-'], { input: bad })).code).toBe(0);
        const condition = async (): Promise<{ status?: string; reason?: string; message?: string }> => {
          const r = await kube.kubectl(['get', 'oauth2client', 'bad-client', '-n', namespace, '-o', 'json']);
          const obj = JSON.parse(r.stdout) as {
            status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
          };
          return obj.status?.conditions?.find((c) => c.type === 'Valid') ?? {};
        };
        expect(await eventually(async () => (await condition()).status === 'False', 5000)).toBe(true);
        const c = await condition();
        expect(c.reason).toBe('InvalidSpec');
        expect(c.message).toContain('not an absolute URI');
        expect(c.message).toContain('fragment');
        expect(events.some((e) => e.type === 'upsert' && e.record.id === badId)).toBe(false);
        expect(await store.clients.get(badId)).toBeUndefined();

        // Fixing it makes it valid and served.
        const good = clientYaml('bad-client', { id: badId, redirectURIs: ['https://ok.example.com/cb'] });
        expect((await kube.kubectl(['apply', '-f', '-'], { input: good })).code).toBe(0);
        expect(await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === badId), 2000)).toBe(
          true,
        );
        expect(await eventually(async () => (await condition()).status === 'True', 5000)).toBe(true);
        await kube.kubectl(['delete', 'oauth2client', 'bad-client', '-n', namespace]);
      } finally {
        stop();
      }
    });

    it('allowedConnectors of a kubectl-applied client reach the store; an empty id is refused by the API server', async () => {
      const clientId = `restricted-${randomBytes(3).toString('hex')}`;
      const spec = {
        id: clientId,
        secret: 's3cret',
        redirectURIs: ['https://app.example.com/callback'],
        allowedConnectors: ['corp-ldap'],
      };
      const applied = await kube.kubectl(['apply', '-f', '-'], { input: clientYaml('restricted', spec) });
      expect(applied.code, applied.stderr).toBe(0);
      try {
        expect(
          await eventually(
            async () => (await store.clients.get(clientId))?.allowedConnectors?.[0] === 'corp-ldap',
            2000,
          ),
        ).toBe(true);
        expect(await store.clients.get(clientId)).toEqual(spec);
        // Written through the store, the list is kept (the object keeps its kubectl name).
        await store.clients.upsert({ ...spec, allowedConnectors: ['corp-ldap', 'github'] });
        const stored = await kube.kubectl([
          'get',
          'oauth2client',
          'restricted',
          '-n',
          namespace,
          '-o',
          'jsonpath={.spec.allowedConnectors}',
        ]);
        expect(JSON.parse(stored.stdout)).toEqual(['corp-ldap', 'github']);
        expect((await store.clients.get(clientId))?.allowedConnectors).toEqual(['corp-ldap', 'github']);

        const refused = await kube.kubectl(['apply', '-f', '-'], {
          input: clientYaml('restricted', { ...spec, allowedConnectors: [''] }),
        });
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toMatch(/allowedConnectors/);
        // The refused apply changed nothing: the restriction still holds.
        expect((await store.clients.get(clientId))?.allowedConnectors).toEqual(['corp-ldap', 'github']);
      } finally {
        await kube.kubectl(['delete', 'oauth2client', 'restricted', '-n', namespace]);
      }
    });

    it('a connector applied with kubectl is watched; a schema-invalid one is refused by the API server', async () => {
      const events: ChangeEvent<{ id: string }>[] = [];
      const stop = store.connectors.watch((e) => events.push(e));
      try {
        const connector = {
          apiVersion: 'gatehouse.dev/v1',
          kind: 'Connector',
          metadata: { name: 'corp-ldap', namespace },
          spec: {
            id: 'corp-ldap',
            type: 'ldap',
            name: 'Corporate LDAP',
            config: { host: 'ldap.example.com:636', userSearch: { baseDN: 'ou=People' } },
          },
        };
        expect((await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(connector) })).code).toBe(0);
        expect(
          await eventually(() => events.some((e) => e.type === 'upsert' && e.record.id === 'corp-ldap'), 2000),
        ).toBe(true);
        expect(await store.connectors.get('corp-ldap')).toEqual(connector.spec);

        const noType = { ...connector, metadata: { name: 'broken', namespace }, spec: { id: 'broken', name: 'x' } };
        const refused = await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(noType) });
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toMatch(/spec\.type: Required value/);
        await kube.kubectl(['delete', 'connector', 'corp-ldap', '-n', namespace]);
        expect(await eventually(() => events.some((e) => e.type === 'delete' && e.id === 'corp-ldap'), 2000)).toBe(
          true,
        );
      } finally {
        stop();
      }
    });
  });

  it('openKubernetesStore names a missing CRD (StoreError invalid)', async () => {
    const crd = 'pushedauthrequests.gatehouse.dev';
    const removed = await kube.kubectl(['delete', 'crd', crd, '--wait=true']);
    expect(removed.code, removed.stderr).toBe(0);
    try {
      const error = await eventually(async () => {
        try {
          await (await openTestStore(kube, namespace)).close();
          return false;
        } catch (e) {
          return (
            e instanceof StoreError &&
            e.code === 'invalid' &&
            e.message.includes(crd) &&
            e.message.includes('deploy/crds')
          );
        }
      }, 10_000);
      expect(error).toBe(true);
    } finally {
      await kube.kubectl(['apply', '-f', `${CRD_DIR}pushedauthrequests.yaml`]);
      await kube.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${crd}`]);
    }
    await expect(
      eventually(async () => {
        try {
          await (await openTestStore(kube, namespace)).close();
          return true;
        } catch {
          return false;
        }
      }, 10_000),
    ).resolves.toBe(true);
  });

  it('rejects bad configuration with every problem at once', async () => {
    await expect(openTestStore(kube, 'Not_A_Namespace')).rejects.toMatchObject({
      code: 'invalid',
      message: expect.stringContaining('namespace'),
    });
    const { openKubernetesStore } = await import('../src/index.ts');
    await expect(openKubernetesStore({ inCluster: false })).rejects.toMatchObject({
      code: 'invalid',
      message: expect.stringContaining('kubeConfigFile'),
    });
    await expect(openKubernetesStore({ inCluster: true, kubeConfigFile: '/x' })).rejects.toMatchObject({
      message: expect.stringContaining('not both'),
    });
    await expect(
      openKubernetesStore({ inCluster: false, kubeConfigFile: '/nonexistent/kubeconfig' }),
    ).rejects.toMatchObject({ code: 'invalid' });
  });
});
