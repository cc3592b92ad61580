/**
 * What a platform team checks in deploy/kustomize, read from the rendered example overlay (`kubectl kustomize`):
 * network isolation (by a model of NetworkPolicy semantics: a bare API server enforces none), disruption
 * budgets, spread, security contexts, resources and probes, and that every selector finds its pods.
 * deploy.test.ts applies the same objects to a real API server.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { renderExample, type K8sObject } from './deploy-render.ts';
import { allowed, selects, type Endpoint, type LabelSelector, type NetworkPolicy } from './network-policy-model.ts';

interface Container {
  name: string;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
    seccompProfile?: { type: string };
  };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: { httpGet?: { port: string | number } };
  livenessProbe?: { httpGet?: { port: string | number } };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
    containers: Container[];
    topologySpreadConstraints?: Array<{
      topologyKey: string;
      whenUnsatisfiable: string;
      labelSelector: LabelSelector;
      maxSkew: number;
    }>;
  };
}
interface Deployment extends K8sObject {
  spec: { replicas?: number; selector: LabelSelector; template: PodTemplate };
}
interface PDB extends K8sObject {
  spec: { selector: LabelSelector; maxUnavailable?: number; minAvailable?: number };
}

/** The endpoints of the seed's picture around the rendered pods, addressed like a typical cluster. */
function world(deployments: Deployment[]): Record<string, Endpoint> {
  const pod = (d: Deployment, ip: string): Endpoint => ({
    name: d.metadata.name,
    ip,
    namespace: d.metadata.namespace as string,
    labels: d.spec.template.metadata.labels,
    ports: d.spec.template.spec.containers.flatMap((c) => c.ports ?? []),
  });
  const byName = (n: string) => {
    const d = deployments.find((x) => x.metadata.name === n);
    if (!d) throw new Error(`no Deployment ${n}`);
    return d;
  };
  return {
    issuer: pod(byName('gatehouse-issuer'), '10.244.3.10'),
    forwardAuth: pod(byName('gatehouse-forward-auth'), '10.244.3.11'),
    app: pod(byName('protected-app'), '10.244.3.12'),
    controller: {
      name: 'ingress-nginx controller',
      ip: '10.244.1.10',
      namespace: 'ingress-nginx',
      labels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
      ports: [{ name: 'https', containerPort: 443 }],
    },
    dns: { name: 'CoreDNS', ip: '10.244.0.5', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    // A pod that copies the controller's labels outside its namespace, a stray pod in gatehouse, any other pod.
    impostor: {
      name: 'ingress-nginx look-alike in default',
      ip: '10.244.4.4',
      namespace: 'default',
      labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
    },
    stray: { name: 'a debug pod in gatehouse', ip: '10.244.3.99', namespace: 'gatehouse', labels: { run: 'debug' } },
    other: { name: 'a pod in another namespace', ip: '10.244.5.5', namespace: 'team-a', labels: { app: 'web' } },
    apiServer: { name: 'the API server', ip: '192.168.10.5' },
    entra: { name: 'login.microsoftonline.com', ip: '20.190.160.1' },
    entra6: { name: 'login.microsoftonline.com over IPv6', ip: '2603:1037:1:c8::8' },
    private6: { name: 'a private IPv6 address', ip: 'fd12:3456::10' },
    metadata: { name: 'the cloud metadata service', ip: '169.254.169.254' },
    ldap: { name: 'the overlay LDAPS directory', ip: '10.20.0.7' },
  };
}

describe('deploy/kustomize/overlays/example as rendered', () => {
  let objects: K8sObject[];
  let deployments: Deployment[];
  let policies: NetworkPolicy[];
  let w: Record<string, Endpoint>;

  beforeAll(async () => {
    objects = await renderExample();
    deployments = objects.filter((o): o is Deployment => o.kind === 'Deployment');
    policies = objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as NetworkPolicy[];
    w = world(deployments);
  });

  it('NetworkPolicies give the seed isolation: who reaches whom', () => {
    const e = (name: string): Endpoint => w[name] as Endpoint;
    const can = (src: string, dst: string, port: number, protocol = 'TCP') =>
      allowed(policies, e(src), e(dst), port, protocol);
    const matrix: Array<[string, string, number, string, boolean]> = [
      // the ingress controller reaches forward-auth, the issuer and the app, on their serving ports only
      ['controller', 'forwardAuth', 4180, 'TCP', true],
      ['controller', 'issuer', 5556, 'TCP', true],
      ['controller', 'app', 8080, 'TCP', true],
      ['controller', 'issuer', 5558, 'TCP', false], // metrics stay closed
      // forward-auth reaches the issuer (directly, or at its public URL through the controller) and DNS
      ['forwardAuth', 'issuer', 5556, 'TCP', true],
      ['forwardAuth', 'controller', 443, 'TCP', true],
      ['forwardAuth', 'dns', 53, 'UDP', true],
      ['forwardAuth', 'entra', 443, 'TCP', false],
      ['forwardAuth', 'app', 8080, 'TCP', false],
      ['forwardAuth', 'apiServer', 6443, 'TCP', false], // it has no token either
      // the issuer: DNS, the API server, public HTTPS upstreams, the overlay's LDAPS; nothing else
      ['issuer', 'dns', 53, 'UDP', true],
      ['issuer', 'dns', 53, 'TCP', true],
      ['issuer', 'apiServer', 6443, 'TCP', true],
      ['issuer', 'entra', 443, 'TCP', true],
      ['issuer', 'entra6', 443, 'TCP', true],
      ['issuer', 'private6', 80, 'TCP', false],
      ['issuer', 'ldap', 636, 'TCP', true],
      ['issuer', 'ldap', 389, 'TCP', false],
      ['issuer', 'metadata', 80, 'TCP', false],
      ['issuer', 'forwardAuth', 4180, 'TCP', false],
      ['issuer', 'app', 8080, 'TCP', false],
      // nobody else reaches any of them, not even a pod copying the controller's labels in another namespace
      ...(['impostor', 'stray', 'other', 'app'] as const).flatMap(
        (src): Array<[string, string, number, string, boolean]> => [
          [src, 'forwardAuth', 4180, 'TCP', false],
          [src, 'issuer', 5556, 'TCP', false],
          ...(src === 'app' ? [] : [[src, 'app', 8080, 'TCP', false] as [string, string, number, string, boolean]]),
        ],
      ),
      ['app', 'dns', 53, 'UDP', false], // the sample app needs no egress
    ];
    const got = matrix.map(
      ([s, d, port, proto]) =>
        `${e(s).name} -> ${e(d).name}:${port}/${proto} ${can(s, d, port, proto) ? 'allowed' : 'denied'}`,
    );
    const want = matrix.map(
      ([s, d, port, proto, ok]) => `${e(s).name} -> ${e(d).name}:${port}/${proto} ${ok ? 'allowed' : 'denied'}`,
    );
    expect(got).toEqual(want);
  });

  it('every NetworkPolicy selects pods that exist, and every pod is selected by a policy of its own', () => {
    const pods = deployments.map((d) => ({
      name: d.metadata.name,
      ns: d.metadata.namespace,
      labels: d.spec.template.metadata.labels,
    }));
    for (const p of policies) {
      const selected = pods.filter((pod) => pod.ns === p.metadata.namespace && selects(p.spec.podSelector, pod.labels));
      expect(selected.length, `NetworkPolicy ${p.metadata.name} selects no pod`).toBeGreaterThan(0);
    }
    for (const pod of pods) {
      const own = policies.filter(
        (p) =>
          Object.keys(p.spec.podSelector).length > 0 &&
          selects(p.spec.podSelector, pod.labels) &&
          p.spec.ingress !== undefined,
      );
      expect(
        own.map((p) => p.metadata.name),
        pod.name,
      ).not.toEqual([]);
    }
    expect(policies.find((p) => p.metadata.name === 'default-deny')?.spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
    });
  });

  it('issuer and forward-auth: at least 2 replicas, a PodDisruptionBudget that lets one go, spread over nodes and zones', () => {
    const pdbs = objects.filter((o): o is PDB => o.kind === 'PodDisruptionBudget');
    for (const name of ['gatehouse-issuer', 'gatehouse-forward-auth']) {
      const d = deployments.find((x) => x.metadata.name === name) as Deployment;
      const labels = d.spec.template.metadata.labels;
      expect(d.spec.replicas, name).toBeGreaterThanOrEqual(2);
      const budget = pdbs.filter(
        (p) => p.metadata.namespace === d.metadata.namespace && selects(p.spec.selector, labels),
      );
      expect(
        budget.map((p) => p.spec.maxUnavailable),
        name,
      ).toEqual([1]);
      const spread = d.spec.template.spec.topologySpreadConstraints ?? [];
      expect(
        spread.map((s) => `${s.topologyKey} ${s.whenUnsatisfiable}`),
        name,
      ).toEqual(['kubernetes.io/hostname DoNotSchedule', 'topology.kubernetes.io/zone ScheduleAnyway']);
      for (const s of spread) expect(selects(s.labelSelector, labels), `${name} spread selector`).toBe(true);
      // The budget's selector must not reach another Deployment's pods.
      for (const other of deployments.filter((x) => x !== d))
        for (const p of budget) expect(selects(p.spec.selector, other.spec.template.metadata.labels)).toBe(false);
    }
  });

  it('every container: non-root, read-only root, no capabilities, RuntimeDefault seccomp, requests and a memory limit, probes on its own ports', () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, d.metadata.name).toBe(true);
      for (const c of pod.containers) {
        const where = `${d.metadata.name}/${c.name}`;
        expect(c.securityContext?.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type, where).toBe(
          'RuntimeDefault',
        );
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect(Object.keys(c.resources?.requests ?? {}).sort(), where).toEqual(['cpu', 'memory']);
        expect(c.resources?.limits?.memory, where).toBeDefined();
        const portNames = (c.ports ?? []).map((p) => p.name);
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          expect(probe?.httpGet, where).toBeDefined();
          expect(portNames, where).toContain(probe?.httpGet?.port);
        }
      }
      // The Deployment's selector finds its own template (kubectl would refuse otherwise, but cheap to say).
      expect(selects(d.spec.selector, d.spec.template.metadata.labels)).toBe(true);
    }
  });

  it('Services select pods that exist, on named ports they declare; Ingress backends are those Services', () => {
    const services = objects.filter((o) => o.kind === 'Service') as Array<
      K8sObject & {
        spec: {
          selector: Record<string, string>;
          ports: Array<{ name: string; port: number; targetPort: string | number }>;
        };
      }
    >;
    for (const s of services) {
      const pods = deployments.filter(
        (d) =>
          d.metadata.namespace === s.metadata.namespace &&
          selects({ matchLabels: s.spec.selector }, d.spec.template.metadata.labels),
      );
      expect(pods.length, `Service ${s.metadata.name}`).toBe(1);
      const declared = (pods[0] as Deployment).spec.template.spec.containers
        .flatMap((c) => c.ports ?? [])
        .map((p) => p.name);
      for (const p of s.spec.ports) expect(declared, `Service ${s.metadata.name}`).toContain(p.targetPort);
    }
    const ingresses = objects.filter((o) => o.kind === 'Ingress') as Array<
      K8sObject & {
        spec: {
          rules: Array<{
            http: {
              paths: Array<{ backend: { service: { name: string; port: { name?: string; number?: number } } } }>;
            };
          }>;
        };
      }
    >;
    for (const ing of ingresses) {
      for (const path of ing.spec.rules.flatMap((r) => r.http.paths)) {
        const svc = services.find((s) => s.metadata.name === path.backend.service.name);
        expect(svc, `${ing.metadata.name} -> ${path.backend.service.name}`).toBeDefined();
        const port = path.backend.service.port;
        expect(svc?.spec.ports.some((p) => p.name === port.name || p.port === port.number)).toBe(true);
      }
    }
  });
});
