/** Every Kubernetes manifest under deploy/ is accepted by a real API server (server-side dry run). */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '@gatehouse/issuer';
import type { KubeCluster } from '@gatehouse/testkit/kube';
import { renderCrdFiles } from '../src/crd-files.ts';
import { allKinds } from '../src/kinds.ts';
import { CRD_DIR } from './kube-global-setup.ts';
import { renderExample } from './deploy-render.ts';
import { freshNamespace, kubeAvailable, testKube } from './kube-env.ts';

const KUSTOMIZE_DIR = fileURLToPath(new URL('../../../deploy/kustomize/', import.meta.url));

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => `${e.parentPath}/${e.name}`.replace('//', '/'));
}

describe('deploy/crds', () => {
  it('matches what src/crds.ts generates (run src/generate-crds.ts after changing it)', async () => {
    const rendered = renderCrdFiles();
    const onDisk = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).sort();
    expect(onDisk).toEqual(rendered.map((f) => f.file).sort());
    for (const { file, text } of rendered) expect(await readFile(`${CRD_DIR}${file}`, 'utf8'), file).toBe(text);
  });
});

describe('deploy/kustomize/base/rbac.yaml', () => {
  it('grants the issuer exactly the kinds it stores (no CRD without a writer, none missing)', async () => {
    const docs = parseAllDocuments(await readFile(`${KUSTOMIZE_DIR}base/rbac.yaml`, 'utf8')).map(
      (d) => d.toJS() as { kind?: string; rules?: Array<{ resources?: string[] }> },
    );
    const role = docs.find((d) => d.kind === 'Role');
    const granted = (role?.rules ?? []).flatMap((r) => r.resources ?? []).filter((r) => !r.includes('/'));
    expect([...granted].sort()).toEqual(
      allKinds()
        .map((k) => k.plural)
        .sort(),
    );
  });
});

describe('deploy/kustomize issuer config', () => {
  it.each(['base/issuer-config.yaml', 'overlays/example/issuer-config.yaml'])(
    '%s is a valid issuer config',
    async (file) => {
      const docs = parseAllDocuments(await readFile(`${KUSTOMIZE_DIR}${file}`, 'utf8')).map(
        (d) => d.toJS() as { data?: Record<string, string> },
      );
      const text = docs[0]?.data?.['config.yaml'];
      expect(text).toBeTruthy();
      const env = {
        AZURE_CLIENT_ID: 'id',
        AZURE_CLIENT_SECRET: 'secret',
        AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        OAUTH2_PROXY_CLIENT_SECRET: 'client-secret',
      };
      const result = await loadConfig(text!, { env });
      expect(result.ok ? [] : result.errors).toEqual([]);
      if (result.ok) expect(result.config.storage).toEqual({ type: 'kubernetes', config: { inCluster: true } });
    },
  );
});

describe.skipIf(!kubeAvailable)('kubectl apply --dry-run=server', () => {
  let kube: KubeCluster;
  let namespace: string;

  beforeAll(async () => {
    kube = await testKube();
    // Namespaced objects can only be dry-run into a namespace that exists: the manifests'
    // `gatehouse` namespace is swapped for a throw-away one (nothing is created in a user's cluster).
    namespace = await freshNamespace(kube, 'deploy');
  });

  afterAll(async () => {
    await kube?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  const intoTestNamespace = (yaml: string): string =>
    yaml.replaceAll(/namespace: gatehouse$/gm, `namespace: ${namespace}`);

  it('accepts every CRD file (CRDs first)', async () => {
    const files = await filesUnder(CRD_DIR);
    expect(files.length).toBe(14);
    for (const file of files) {
      const res = await kube.kubectl(['apply', '--dry-run=server', '-f', file]);
      expect(res.code, `${file}: ${res.stderr}`).toBe(0);
    }
  });

  it('accepts the kustomize base and the example overlay, and each base file on its own', async () => {
    for (const dir of ['base', 'overlays/example']) {
      const rendered = await kube.kubectl(['kustomize', `${KUSTOMIZE_DIR}${dir}`]);
      expect(rendered.code, `${dir}: ${rendered.stderr}`).toBe(0);
      expect(rendered.stdout).toContain('namespace: gatehouse');
      const res = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: intoTestNamespace(rendered.stdout),
      });
      expect(res.code, `${dir}: ${res.stderr}`).toBe(0);
      expect(res.stdout).toMatch(
        /deployment\.apps\/gatehouse-issuer (created|configured|unchanged) \(server dry run\)/,
      );
      expect(res.stdout).toMatch(/ingress\.networking\.k8s\.io\/protected-app .*\(server dry run\)/);
      expect(res.stdout).toMatch(/role\.rbac\.authorization\.k8s\.io\/gatehouse-issuer .*\(server dry run\)/);
    }
    const baseFiles = (await filesUnder(`${KUSTOMIZE_DIR}base`)).filter((f) => !f.endsWith('kustomization.yaml'));
    expect(baseFiles.length).toBeGreaterThanOrEqual(7);
    for (const file of baseFiles) {
      const res = await kube.kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], {
        input: intoTestNamespace(await readFile(file, 'utf8')),
      });
      expect(res.code, `${file}: ${res.stderr}`).toBe(0);
    }
  });

  it('the protected Ingress carries the three nginx auth annotations', async () => {
    const res = await kube.kubectl(['kustomize', `${KUSTOMIZE_DIR}overlays/example`]);
    expect(res.code).toBe(0);
    for (const key of ['auth-url', 'auth-signin', 'auth-response-headers']) {
      expect(res.stdout).toContain(`nginx.ingress.kubernetes.io/${key}:`);
    }
    expect(res.stdout).toContain('gatehouse-forward-auth.gatehouse.svc.cluster.local:4180/oauth2/auth');
  });

  // The README's upgrade step on CRDs first installed with its set-up command (plain `kubectl apply`, as the
  // global set-up did): server-side apply takes the fields over without a conflict or a warning.
  it('kubectl apply --server-side -f deploy/crds over a client-side install: no conflict, no warning', async () => {
    const res = await kube.kubectl(['apply', '--server-side', '-f', CRD_DIR]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      'customresourcedefinition.apiextensions.k8s.io/signingkeys.gatehouse.dev serverside-applied',
    );
  });

  // Not a dry run: the overlay as a user applies it, into its own `gatehouse` namespace (the API server is the
  // tests' own). Any warning (a deprecated API, a Pod Security violation of a pod template, an unknown field)
  // fails the test. The server stores the policies; nothing enforces them here (deploy-hardening.test.ts).
  it('kubectl apply -k overlays/example --server-side, twice: applied, with no warning at all', async () => {
    try {
      for (const round of ['created', 'unchanged']) {
        const res = await kube.kubectl(['apply', '-k', `${KUSTOMIZE_DIR}overlays/example`, '--server-side']);
        expect(res.stderr, round).toBe('');
        expect(res.code, round).toBe(0);
        for (const name of [
          'default-deny',
          'gatehouse-issuer',
          'gatehouse-forward-auth',
          'gatehouse-issuer-apiserver',
          'gatehouse-issuer-upstreams',
          'protected-app',
        ]) {
          expect(res.stdout, round).toContain(`networkpolicy.networking.k8s.io/${name} serverside-applied`);
        }
        expect(res.stdout).toContain('poddisruptionbudget.policy/gatehouse-issuer serverside-applied');
        expect(res.stdout).toContain('deployment.apps/protected-app serverside-applied');
      }
      // Stored as rendered: what deploy-hardening.test.ts reasons about is what the server keeps.
      const rendered = await renderExample();
      const stored = await kube.kubectl([
        'get',
        'networkpolicies,poddisruptionbudgets',
        '-n',
        'gatehouse',
        '-o',
        'json',
      ]);
      expect(stored.code, stored.stderr).toBe(0);
      const items = (
        JSON.parse(stored.stdout) as { items: Array<{ kind: string; metadata: { name: string }; spec: unknown }> }
      ).items;
      const key = (o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`;
      const want = rendered.filter((o) => o.kind === 'NetworkPolicy' || o.kind === 'PodDisruptionBudget');
      expect(items.map(key).sort()).toEqual(want.map(key).sort());
      for (const o of want) expect(items.find((i) => key(i) === key(o))?.spec, key(o)).toEqual(o.spec);

      // The namespace enforces Pod Security "restricted", so a template that breaks it is reported: the empty
      // stderr above means every pod template meets it.
      const bad = `apiVersion: apps/v1
kind: Deployment
metadata: {name: runs-as-root, namespace: gatehouse}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: x, image: busybox}]
`;
      const violation = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: bad });
      expect(violation.stderr).toMatch(/would violate PodSecurity "restricted:latest"/);
    } finally {
      // No namespace controller runs here: the namespace stays Terminating, which no other file uses.
      await kube.kubectl(['delete', 'namespace', 'gatehouse', '--wait=false']);
    }
  });
});
