/**
 * The custom resource kinds: one per oidc-provider model plus the broker's own records. The CRD
 * manifests in deploy/crds are generated from this table (src/crds.ts), so the store and the
 * cluster agree on plurals.
 */
import type { ModelName } from '@gatehouse/storage';

export const GROUP = 'gatehouse.dev';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  description: string;
}

/** The oidc-provider models the issuer writes (MODEL_NAMES). `authcodes` keeps the seed's plural. */
export const MODEL_KINDS: Record<ModelName, KindInfo> = {
  Session: {
    kind: 'OIDCSession',
    plural: 'oidcsessions',
    singular: 'oidcsession',
    description: 'An end-user browser session.',
  },
  AccessToken: {
    kind: 'AccessToken',
    plural: 'accesstokens',
    singular: 'accesstoken',
    description: 'An opaque access token.',
  },
  AuthorizationCode: {
    kind: 'AuthCode',
    plural: 'authcodes',
    singular: 'authcode',
    description: 'An authorization code (redeemable once).',
  },
  RefreshToken: {
    kind: 'RefreshToken',
    plural: 'refreshtokens',
    singular: 'refreshtoken',
    description: 'A refresh token.',
  },
  DeviceCode: {
    kind: 'DeviceCode',
    plural: 'devicecodes',
    singular: 'devicecode',
    description: 'A device authorization grant.',
  },
  ClientCredentials: {
    kind: 'ClientCredentialsToken',
    plural: 'clientcredentialstokens',
    singular: 'clientcredentialstoken',
    description: 'An access token from the client_credentials grant.',
  },
  Interaction: {
    kind: 'Interaction',
    plural: 'interactions',
    singular: 'interaction',
    description: 'A login or consent in progress.',
  },
  PushedAuthorizationRequest: {
    kind: 'PushedAuthRequest',
    plural: 'pushedauthrequests',
    singular: 'pushedauthrequest',
    description: 'A pushed authorization request (PAR).',
  },
  Grant: { kind: 'Grant', plural: 'grants', singular: 'grant', description: 'What an end-user granted a client.' },
};

export const RECORD_KINDS = {
  signingKeys: {
    kind: 'SigningKeySet',
    plural: 'signingkeys',
    singular: 'signingkey',
    description: 'The issuer signing keys (one object).',
  },
  clients: {
    kind: 'OAuth2Client',
    plural: 'oauth2clients',
    singular: 'oauth2client',
    description: 'An OAuth2 client managed at run time (Dex staticClients shape).',
  },
  connectors: {
    kind: 'Connector',
    plural: 'connectors',
    singular: 'connector',
    description: 'An upstream identity connector managed at run time.',
  },
  offlineSessions: {
    kind: 'OfflineSession',
    plural: 'offlinesessions',
    singular: 'offlinesession',
    description: 'Upstream refresh state per user and connector.',
  },
  passwords: { kind: 'Password', plural: 'passwords', singular: 'password', description: 'A password-database user.' },
} as const satisfies Record<string, KindInfo>;

export function allKinds(): KindInfo[] {
  return [...Object.values(MODEL_KINDS), ...Object.values(RECORD_KINDS)];
}

/** Labels (values are hashes: bounded and DNS-safe, and they reveal nothing). */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  grant: 'gatehouse.dev/grant',
  uid: 'gatehouse.dev/uid',
  userCode: 'gatehouse.dev/user-code',
  /** "true" on every record that expires: gc lists only these. */
  expires: 'gatehouse.dev/expires',
  /** Expiry day (UTC, yyyymmdd): for humans and `kubectl delete -l`. */
  expiryDay: 'gatehouse.dev/expiry-day',
} as const;

export const MANAGED_BY = 'gatehouse';
/** Field manager for server-side apply and status writes. */
export const FIELD_MANAGER = 'gatehouse';
