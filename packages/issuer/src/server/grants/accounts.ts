/**
 * The identity behind each grant, and oidc-provider's `findAccount`.
 *
 * At the end of a login the issuer stores, inside the oidc-provider Grant record (field
 * `gatehouse`), the connector id, the Identity (without connectorData), the cross-client
 * audiences granted and the refresh bookkeeping. Upstream refresh state (`connectorData`) goes to
 * `store.offlineSessions` per (user, connector), as Dex does. Claims are always served from the
 * grant, so ID tokens and userinfo agree, and a refresh re-checks the user upstream
 * (`RefreshConnector.refresh`) and updates the grant.
 */
import { isDeepStrictEqual } from 'node:util';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Connector, Identity, Scopes } from '@gatehouse/connector-kit';
import { canRefresh, isConnectorError } from '@gatehouse/connector-kit';
import type { Store } from '@gatehouse/storage';
import { GRANT_EXTENSION } from '../store/adapter.ts';
import type { ClientDirectory } from '../oidc/clients.ts';
import type { RefreshPolicy } from './refresh-policy.ts';
import { encodeSubject } from './subject.ts';

/** A connector opened for this issuer (same shape as `OpenedConnector` from `../connectors`). */
export interface IssuerConnector {
  id: string;
  type: string;
  name: string;
  connector: Connector;
}

export type PublicIdentity = Omit<Identity, 'connectorData'>;

export interface GrantIdentity {
  connectorId: string;
  identity: PublicIdentity;
  /** Peers from `audience:server:client_id:<peer>` scopes (trustedPeers already checked). */
  audience: string[];
  /** Epoch seconds. */
  createdAt: number;
  lastUsed: number;
}

export function connectorScopes(scope: string | Iterable<string>): Scopes {
  const set = new Set(typeof scope === 'string' ? scope.split(' ') : scope);
  return { offlineAccess: set.has('offline_access'), groups: set.has('groups') };
}

export function publicIdentity(identity: Identity): PublicIdentity {
  const { connectorData: _hidden, ...rest } = identity;
  return rest;
}

export function subjectFor(identity: Identity, connectorId: string): string {
  return encodeSubject(identity.userId, connectorId);
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export class GrantIdentities {
  readonly #store: Store;
  /** Per-request memo (keyed by the koa ctx) so one token request reads a grant once. */
  readonly #memo = new WeakMap<object, Map<string, GrantIdentity | undefined>>();

  constructor(store: Store) {
    this.#store = store;
  }

  async load(grantId: string, ctx?: object): Promise<GrantIdentity | undefined> {
    const memo = ctx ? this.#memo.get(ctx) : undefined;
    if (memo?.has(grantId)) return memo.get(grantId);
    const payload = await this.#store.model('Grant').find(grantId);
    const raw = payload?.[GRANT_EXTENSION];
    const ext = raw && typeof raw === 'object' ? (raw as GrantIdentity) : undefined;
    if (ctx) this.#remember(ctx, grantId, ext);
    return ext;
  }

  #remember(ctx: object, grantId: string, ext: GrantIdentity | undefined): void {
    let memo = this.#memo.get(ctx);
    if (!memo) this.#memo.set(ctx, (memo = new Map()));
    memo.set(grantId, ext);
  }

  /**
   * Adds our field to a Grant oidc-provider just saved. `ttl` (seconds) replaces the grant's
   * lifetime: oidc-provider gives every grant one `ttl.Grant`, but only offline grants need to
   * outlive their ID and access tokens.
   */
  async attach(grantId: string, ext: GrantIdentity, options: { ttl?: number; ctx?: object } = {}): Promise<void> {
    const model = this.#store.model('Grant');
    const payload = await model.find(grantId);
    if (!payload) throw new Error('grant vanished before its identity was attached');
    const now = nowSeconds();
    const exp =
      options.ttl !== undefined ? now + options.ttl : typeof payload.exp === 'number' ? payload.exp : undefined;
    const next = { ...payload, [GRANT_EXTENSION]: ext, ...(exp !== undefined ? { exp } : {}) };
    await model.upsert(grantId, next, exp !== undefined ? exp - now : undefined);
    if (options.ctx) this.#remember(options.ctx, grantId, ext);
  }
}

/** Claims for a scope string, Dex's set: sub; email/email_verified; name/preferred_username;
 * groups; federated_claims. oidc-provider then filters them by the `claims` config per scope. */
export function claimsFor(sub: string, ext: GrantIdentity): Record<string, unknown> {
  const id = ext.identity;
  const claims: Record<string, unknown> = {
    sub,
    name: id.username,
    preferred_username: id.preferredUsername ?? id.username,
    groups: id.groups ?? [],
    federated_claims: { connector_id: ext.connectorId, user_id: id.userId },
  };
  if (id.email !== undefined) {
    claims.email = id.email;
    claims.email_verified = id.emailVerified ?? false;
  }
  return claims;
}

export interface FindAccountDeps {
  clients: Pick<ClientDirectory, 'connectorAllowed'>;
  grants: GrantIdentities;
  store: Store;
  connectors: Map<string, IssuerConnector>;
  /** Idle and absolute lifetimes, and how stale `lastUsed` may get (grants/refresh-policy.ts). */
  refresh: RefreshPolicy;
  logger: { warn(obj: object, msg?: string): void };
}

interface TokenLike {
  grantId?: string;
  kind?: string;
  consumed?: unknown;
  scope?: string;
  /** When this token was issued (epoch seconds): a use of its grant. */
  iat?: number;
}

/** Same identity, compared as stored (JSON: undefined members dropped). */
function sameIdentity(a: PublicIdentity, b: PublicIdentity): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}

/**
 * `temporarily_unavailable` with HTTP 503: the upstream could not re-check the user right now. Not
 * `invalid_grant`, which clients take as final (they drop the refresh token and sign in again).
 */
export class UpstreamTemporarilyUnavailable extends errors.TemporarilyUnavailable {
  constructor() {
    super('the upstream identity provider could not be reached; retry the refresh later');
    this.status = 503;
    this.statusCode = 503;
    // OIDCProviderError hides the body of 5xx errors (server_error); this one is meant for the client.
    this.expose = true;
  }
}

/**
 * Re-checks the user upstream for a refresh-token grant. A transient upstream failure throws
 * `UpstreamTemporarilyUnavailable` (setting `Retry-After` on `ctx` when the connector gave one);
 * anything else InvalidGrant.
 */
async function refreshUpstream(
  deps: FindAccountDeps,
  ext: GrantIdentity,
  token: TokenLike,
  ctx?: { set?(field: string, value: string): void },
): Promise<GrantIdentity> {
  const now = deps.refresh.now();
  const expired = deps.refresh.expired(ext, token.iat);
  if (expired !== undefined) throw new errors.InvalidGrant(expired);
  const opened = deps.connectors.get(ext.connectorId);
  if (!opened || !canRefresh(opened.connector)) {
    throw new errors.InvalidGrant('the connector of this grant cannot refresh it');
  }
  const session = await deps.store.offlineSessions.get(ext.identity.userId, ext.connectorId);
  let next: Identity;
  try {
    next = await opened.connector.refresh(connectorScopes(token.scope ?? ''), {
      ...ext.identity,
      connectorData: session?.connectorData,
    });
  } catch (err) {
    const failure = isConnectorError(err) ? err : undefined;
    deps.logger.warn(
      { connector: ext.connectorId, code: failure?.code, err: (err as Error)?.message },
      'upstream refresh failed',
    );
    if (failure?.connectorData !== undefined) {
      // Upstream state that changed before the failure (a rotated single-use refresh token):
      // losing it would leave the offline session holding a spent token for good.
      await deps.store.offlineSessions.upsert({
        userId: ext.identity.userId,
        connectorId: ext.connectorId,
        connectorData: failure.connectorData,
        updatedAt: Date.now(),
      });
    }
    if (failure?.code === 'upstream_unavailable' || failure?.code === 'upstream_error') {
      // Retryable: thrown before oidc-provider consumes the refresh token, so the client can
      // present the same one again once the upstream answers.
      if (failure.retryAfter !== undefined && failure.retryAfter > 0)
        ctx?.set?.('Retry-After', String(Math.ceil(failure.retryAfter)));
      throw new UpstreamTemporarilyUnavailable();
    }
    throw new errors.InvalidGrant('upstream identity could not be refreshed');
  }
  if (next.userId !== ext.identity.userId) {
    throw new errors.InvalidGrant('upstream identity changed');
  }
  if (next.connectorData !== undefined) {
    await deps.store.offlineSessions.upsert({
      userId: next.userId,
      connectorId: ext.connectorId,
      connectorData: next.connectorData,
      updatedAt: Date.now(),
    });
  }
  return { ...ext, identity: publicIdentity(next), lastUsed: now };
}

/** oidc-provider `findAccount`. */
export function createFindAccount(deps: FindAccountDeps) {
  return async (ctx: KoaContextWithOIDC, sub: string, token?: unknown) => {
    const t = token as TokenLike | undefined;
    if (!t?.grantId) {
      // Session checks during /auth: only the subject is needed (every login runs an interaction).
      return { accountId: sub, claims: () => ({ sub }) };
    }
    let ext = await deps.grants.load(t.grantId, ctx);
    if (!ext) return undefined;
    // allowedConnectors holds for grants made before the client's list changed (code, device
    // code, refresh at the token endpoint; userinfo).
    const clientId = ctx.oidc?.client?.clientId;
    if (clientId !== undefined && !(await deps.clients.connectorAllowed(clientId, ext.connectorId))) {
      if (ctx.oidc?.route === 'token')
        throw new errors.InvalidGrant('the client may not use the connector of this grant');
      return undefined;
    }
    if (t.kind === 'RefreshToken' && ctx.oidc?.route === 'token' && !t.consumed) {
      const before = ext;
      ext = await refreshUpstream(deps, ext, t, ctx);
      // One API write less per refresh when nothing but the last-used time would change.
      const staleness = deps.refresh.lastUsedStaleness();
      const skip =
        staleness !== undefined &&
        ext.lastUsed - before.lastUsed < staleness &&
        sameIdentity(ext.identity, before.identity);
      if (!skip) await deps.grants.attach(t.grantId, ext, { ctx });
    }
    const found = ext;
    return { accountId: sub, claims: () => claimsFor(sub, found) };
  };
}
