/**
 * CustomResourceDefinition manifests (apiextensions.k8s.io/v1) for every kind in kinds.ts, with
 * structural OpenAPI v3 schemas and printer columns. `node src/generate-crds.ts` writes them to
 * deploy/crds/; a test checks the files match.
 */
import { GROUP, MODEL_KINDS, RECORD_KINDS, VERSION, type KindInfo } from './kinds.ts';

type Schema = Record<string, unknown>;
type Column = { name: string; type: string; jsonPath: string; description?: string; priority?: number };

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const strList = (description: string): Schema => ({ type: 'array', description, items: { type: 'string' } });

const conditionsSchema: Schema = {
  type: 'array',
  description: 'Observations of the current state (type Valid: whether Gatehouse accepted the spec).',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object',
    required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
    properties: {
      type: str('Condition type.', { maxLength: 316 }),
      status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
      observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
      lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
      reason: str('CamelCase reason.', { maxLength: 1024 }),
      message: str('Human-readable detail.', { maxLength: 32768 }),
    },
  },
};

const modelSpec: Schema = {
  type: 'object',
  required: ['idHash', 'payload'],
  properties: {
    idHash: str('SHA-256 (hex) of the record id. The id itself is a bearer secret and is not stored.', {
      pattern: '^[0-9a-f]{64}$',
    }),
    jtiIsId: { type: 'boolean', description: 'The payload jti equals the id and was removed before storing.' },
    payload: str('The oidc-provider payload as JSON text (without jti when jtiIsId).'),
    expiresAt: str('Expiry (RFC 3339, millisecond precision); absent = never.', { format: 'date-time' }),
    consumed: {
      type: 'boolean',
      description: 'Whether the record has been consumed (compare-and-swap on resourceVersion).',
    },
    consumedAt: str('When it was consumed.', { format: 'date-time' }),
    clientId: str('Client id from the payload (for kubectl get).'),
    accountId: str('End-user account id from the payload (for kubectl get).'),
  },
};

const modelColumns: Column[] = [
  { name: 'Client', type: 'string', jsonPath: '.spec.clientId' },
  { name: 'User', type: 'string', jsonPath: '.spec.accountId' },
  { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt', description: 'Expiry (UTC)' },
  { name: 'Consumed', type: 'boolean', jsonPath: '.spec.consumed' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

const jwk: Schema = {
  type: 'object',
  required: ['kid', 'alg'],
  'x-kubernetes-preserve-unknown-fields': true,
  properties: { kid: { type: 'string' }, alg: { type: 'string' }, kty: { type: 'string' } },
};

interface RecordShape {
  spec: Schema;
  columns: Column[];
  status?: boolean;
}

const RECORD_SHAPES: Record<keyof typeof RECORD_KINDS, RecordShape> = {
  signingKeys: {
    spec: {
      type: 'object',
      required: ['signing', 'retired', 'nextRotation'],
      properties: {
        signing: { type: 'array', description: 'Current private signing keys (JWK), one per algorithm.', items: jwk },
        retired: {
          type: 'array',
          description: 'Retired public keys still published until expiresAt.',
          items: {
            type: 'object',
            required: ['jwk', 'expiresAt'],
            properties: { jwk, expiresAt: { type: 'integer', format: 'int64', description: 'Epoch seconds.' } },
          },
        },
        nextRotation: {
          type: 'integer',
          format: 'int64',
          description: 'When the keys are due for rotation (epoch seconds).',
        },
      },
    },
    columns: [
      { name: 'Key', type: 'string', jsonPath: '.spec.signing[0].kid' },
      { name: 'Alg', type: 'string', jsonPath: '.spec.signing[0].alg' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  clients: {
    spec: {
      type: 'object',
      required: ['id', 'redirectURIs'],
      properties: {
        id: str('client_id.', { minLength: 1, maxLength: 1024 }),
        secret: str('client_secret (absent for public clients).'),
        redirectURIs: strList('Exact redirect URIs.'),
        postLogoutRedirectURIs: strList('Exact post-logout redirect URIs.'),
        trustedPeers: strList('Client ids allowed to mint tokens for this client.'),
        public: { type: 'boolean', description: 'A public client (no secret; PKCE required).' },
        name: str('Display name.'),
        logoURL: str('Logo shown on the consent page.'),
        allowedConnectors: {
          type: 'array',
          description: 'Connector ids this client may log in through (Dex allowedConnectors); absent or empty: any.',
          items: { type: 'string', minLength: 1 },
        },
      },
    },
    columns: [
      { name: 'Client', type: 'string', jsonPath: '.spec.id' },
      { name: 'Name', type: 'string', jsonPath: '.spec.name' },
      { name: 'Public', type: 'boolean', jsonPath: '.spec.public' },
      { name: 'Valid', type: 'string', jsonPath: '.status.conditions[?(@.type=="Valid")].status' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    status: true,
  },
  connectors: {
    spec: {
      type: 'object',
      required: ['id', 'type', 'name'],
      properties: {
        id: str('Connector id (appears in user ids and URLs).', { minLength: 1, maxLength: 253 }),
        type: str('Connector type: microsoft, github, ldap, ...', { minLength: 1 }),
        name: str('Display name on the login page.'),
        config: {
          type: 'object',
          description: 'Type-specific configuration (Dex keys).',
          'x-kubernetes-preserve-unknown-fields': true,
        },
      },
    },
    columns: [
      { name: 'Connector', type: 'string', jsonPath: '.spec.id' },
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'Name', type: 'string', jsonPath: '.spec.name' },
      { name: 'Valid', type: 'string', jsonPath: '.status.conditions[?(@.type=="Valid")].status' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    status: true,
  },
  offlineSessions: {
    spec: {
      type: 'object',
      required: ['userId', 'connectorId', 'updatedAt'],
      properties: {
        userId: str('User id.'),
        connectorId: str('Connector id.'),
        connectorData: str('Connector data (upstream refresh state) as JSON text.'),
        updatedAt: { type: 'integer', format: 'int64', description: 'Epoch seconds.' },
      },
    },
    columns: [
      { name: 'User', type: 'string', jsonPath: '.spec.userId' },
      { name: 'Connector', type: 'string', jsonPath: '.spec.connectorId' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  passwords: {
    spec: {
      type: 'object',
      required: ['email', 'hash', 'username', 'userId'],
      properties: {
        email: str('Login email (lower case).', { minLength: 1 }),
        hash: str('bcrypt hash.', { minLength: 1 }),
        username: str('Display name.'),
        userId: str('Stable user id.'),
      },
    },
    columns: [
      { name: 'Email', type: 'string', jsonPath: '.spec.email' },
      { name: 'User', type: 'string', jsonPath: '.spec.username' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
};

function crd(info: KindInfo, spec: Schema, columns: Column[], status: boolean): Record<string, unknown> {
  const properties: Schema = { spec };
  if (status) properties.status = { type: 'object', properties: { conditions: conditionsSchema } };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'gatehouse' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        ...(info.shortNames ? { shortNames: info.shortNames } : {}),
        categories: ['gatehouse'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: info.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                ...properties,
              },
            },
          },
          ...(status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: columns,
        },
      ],
    },
  };
}

/** Every CRD, as objects ready for YAML. */
export function crdManifests(): Array<{ file: string; plural: string; manifest: Record<string, unknown> }> {
  const out: Array<{ file: string; plural: string; manifest: Record<string, unknown> }> = [];
  for (const info of Object.values(MODEL_KINDS)) {
    out.push({ file: `${info.plural}.yaml`, plural: info.plural, manifest: crd(info, modelSpec, modelColumns, false) });
  }
  for (const [key, info] of Object.entries(RECORD_KINDS) as Array<[keyof typeof RECORD_KINDS, KindInfo]>) {
    const shape = RECORD_SHAPES[key];
    out.push({
      file: `${info.plural}.yaml`,
      plural: info.plural,
      manifest: crd(info, shape.spec, shape.columns, shape.status ?? false),
    });
  }
  return out;
}
