/**
 * On the Kubernetes store every record is an etcd object: anonymous `/auth` requests must not
 * leave custom resources behind (Dex's AuthRequest pile-up, dexidp/dex#1292). Counted with
 * kubectl in the issuer's namespace; a real login still works after the flood.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startIssuer, type RunningIssuer } from '@gatehouse/issuer';
import { CookieJar, flood, login, TEST_CLIENT, testIssuerConfig } from '@gatehouse/issuer/testing';
import { getFreePort } from '@gatehouse/testkit/ports';
import type { KubeCluster } from '@gatehouse/testkit/kube';
import type { KubernetesStore } from '../src/index.ts';
import { MODEL_KINDS } from '../src/kinds.ts';
import { freshNamespace, kubeAvailable, openTestStore, testKube } from './kube-env.ts';

const REDIRECT = TEST_CLIENT.redirectURIs[0]!;
const FLOOD = Number(process.env.GATEHOUSE_FLOOD ?? 10_000);

describe.skipIf(!kubeAvailable)('anonymous requests and the Kubernetes store', () => {
  let kube: KubeCluster;
  let namespace: string;
  let store: KubernetesStore;
  let issuer: RunningIssuer;

  beforeAll(async () => {
    kube = await testKube();
    namespace = await freshNamespace(kube, 'anon');
    store = await openTestStore(kube, namespace);
    issuer = await startIssuer({
      config: testIssuerConfig(await getFreePort()),
      store,
      logger: pino({ level: 'silent' }),
    });
  }, 120_000);

  afterAll(async () => {
    await issuer?.close();
    await store?.close();
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  /** Objects of every oidc-provider model kind in the namespace, by plural (kubectl get). */
  async function objects(): Promise<Record<string, number>> {
    const plurals = [...new Set(Object.values(MODEL_KINDS).map((k) => k.plural))];
    const res = await kube.kubectl(['get', plurals.join(','), '-n', namespace, '-o', 'name']);
    expect(res.code, res.stderr).toBe(0);
    const by: Record<string, number> = {};
    for (const line of res.stdout.split('\n').filter(Boolean)) {
      const kind = line.split('/')[0]!.split('.')[0]!;
      by[kind] = (by[kind] ?? 0) + 1;
    }
    return by;
  }

  const authURL = (state: string) =>
    `${issuer.issuerURL}/auth?${new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', state })}`;

  it(`${FLOOD} anonymous /auth requests from one address leave no custom resource; a login still works`, async () => {
    expect(await objects()).toEqual({});
    const url = authURL('flood');
    const result = await flood(FLOOD, 50, () => fetch(url, { redirect: 'manual' }));
    const left = await objects();
    console.log(
      `${FLOOD} anonymous /auth requests on Kubernetes: ${result.ms} ms, statuses ${JSON.stringify(result.statuses)}, objects left: ${JSON.stringify(left)}`,
    );
    expect(result.statuses).toEqual({ 303: FLOOD });
    expect(left).toEqual({});

    const done = await login(new CookieJar(), authURL('legit'), { stopAt: REDIRECT });
    expect(new URL(done.location!).searchParams.get('code')).toBeTruthy();
    // What that login stored: its grant, code and session (and the interaction's short-lived copy
    // from the upstream hop is gone with the interaction), nothing per anonymous request.
    const after = await objects();
    expect(after.interaction ?? 0).toBe(0);
    expect(after.authcode).toBe(1);
  }, 600_000);
});
