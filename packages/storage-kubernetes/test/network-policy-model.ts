/**
 * NetworkPolicy semantics (networking.k8s.io/v1) over a handful of endpoints, for tests of deploy/kustomize: a
 * bare API server stores policies but enforces nothing, so the tests ask this model which connections the
 * rendered policies allow. Pods are matched by labels and namespace, ipBlocks by address, ports by
 * number or by the destination's port name. A connection passes when the source's egress and the
 * destination's ingress both allow it (an endpoint no policy selects for a direction is open in it).
 */
import { BlockList, isIP } from 'node:net';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: PolicyPort[];
}

export interface NetworkPolicy {
  metadata: { name: string; namespace?: string };
  spec: { podSelector: LabelSelector; policyTypes?: Array<'Ingress' | 'Egress'>; ingress?: Rule[]; egress?: Rule[] };
}

/** A pod (namespace and labels) or an address outside the cluster (`namespace` undefined). */
export interface Endpoint {
  name: string;
  ip: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** Named container ports, for policies that name a port. */
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
}

export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const ok =
      e.operator === 'Exists'
        ? has
        : e.operator === 'DoesNotExist'
          ? !has
          : e.operator === 'In'
            ? has && (e.values ?? []).includes(value as string)
            : !has || !(e.values ?? []).includes(value as string);
    if (!ok) return false;
  }
  return true;
}

/** Kubernetes keeps the families apart: an IPv6 block never matches an IPv4 address (nor the reverse). */
function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bits = ''] = cidr.split('/');
  const family = isIP(base) === 6 ? 'ipv6' : 'ipv4';
  if (isIP(ip) !== isIP(base) || isIP(ip) === 0) return false;
  const list = new BlockList();
  list.addSubnet(base, Number(bits), family);
  return list.check(ip, family);
}

const namespaceLabels = (ns: string): Record<string, string> => ({ 'kubernetes.io/metadata.name': ns });

function peerMatches(peer: Peer, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock)
    return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(other.ip, c));
  if (other.namespace === undefined) return false; // pod/namespace selectors select pods only
  const nsOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, namespaceLabels(other.namespace))
    : other.namespace === policyNamespace;
  return nsOk && selects(peer.podSelector, other.labels ?? {});
}

function portMatches(ports: PolicyPort[] | undefined, dst: Endpoint, port: number, protocol: string): boolean {
  if (ports === undefined || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string')
      return (dst.ports ?? []).some(
        (c) => c.name === p.port && c.containerPort === port && (c.protocol ?? 'TCP') === protocol,
      );
    return p.endPort === undefined ? p.port === port : port >= p.port && port <= p.endPort;
  });
}

const typesOf = (p: NetworkPolicy): Array<'Ingress' | 'Egress'> =>
  p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);

function side(
  policies: NetworkPolicy[],
  self: Endpoint,
  other: Endpoint,
  dst: Endpoint,
  port: number,
  protocol: string,
  dir: 'Ingress' | 'Egress',
): boolean {
  if (self.namespace === undefined) return true; // outside the cluster: no policy applies
  const applying = policies.filter(
    (p) =>
      (p.metadata.namespace ?? '') === self.namespace &&
      selects(p.spec.podSelector, self.labels ?? {}) &&
      typesOf(p).includes(dir),
  );
  if (applying.length === 0) return true;
  return applying.some(
    (p) =>
      (dir === 'Ingress' ? p.spec.ingress : p.spec.egress)?.some((rule) => {
        const peers = dir === 'Ingress' ? rule.from : rule.to;
        const peerOk =
          peers === undefined ||
          peers.length === 0 ||
          peers.some((peer) => peerMatches(peer, self.namespace as string, other));
        return peerOk && portMatches(rule.ports, dst, port, protocol);
      }) ?? false,
  );
}

/** Whether `src` may open a connection to `dst` on `port` under `policies`. */
export function allowed(
  policies: NetworkPolicy[],
  src: Endpoint,
  dst: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  return (
    side(policies, src, dst, dst, port, protocol, 'Egress') && side(policies, dst, src, dst, port, protocol, 'Ingress')
  );
}
