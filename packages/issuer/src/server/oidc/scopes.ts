/**
 * Dex's scopes, and the scope policy of the authorization endpoint. The password grant and the
 * login completion (login/completion.ts) read the same lists.
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientDirectory } from './clients.ts';

/** Scopes Dex knows; anything else (except audience scopes) is `invalid_scope`, as in Dex. */
export const KNOWN_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'groups', 'federated:id'] as const;

/** `audience:server:client_id:<peer>`: the ID token is also for <peer> (Dex's trustedPeers). */
export const AUDIENCE_PREFIX = 'audience:server:client_id:';

export const isKnownScope = (s: string): boolean => (KNOWN_SCOPES as readonly string[]).includes(s);

/** The scopes oidc-provider's grant carries: the known ones (audience scopes live in our grant field). */
export const oidcScopes = (scopes: readonly string[]): string[] => scopes.filter(isKnownScope);

/** The peers named by audience scopes. */
export const audiencesOf = (scopes: readonly string[]): string[] =>
  scopes.filter((s) => s.startsWith(AUDIENCE_PREFIX)).map((s) => s.slice(AUDIENCE_PREFIX.length));

/** `invalid_scope` for scopes outside Dex's set (audience scopes allowed where `audiences` says so). */
export function refuseUnknownScopes(scopes: readonly string[], options: { audiences: boolean }): void {
  const unknown = scopes.filter((s) => !isKnownScope(s) && !(options.audiences && s.startsWith(AUDIENCE_PREFIX)));
  if (unknown.length > 0) throw new errors.InvalidScope('unrecognized scope(s)', unknown.join(' ').slice(0, 200));
}

/** The raw authorization-request parameter, before oidc-provider rewrote `scope`. */
function rawParam(ctx: KoaContextWithOIDC, name: string): string | undefined {
  const source =
    (ctx.method === 'POST' ? (ctx.oidc as unknown as { body?: Record<string, unknown> }).body : ctx.query) ?? {};
  const v = (source as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

export interface ScopePolicyDeps {
  clients: Pick<ClientDirectory, 'trustedPeersOf' | 'connectorAllowed'>;
  connectors: ReadonlyMap<string, unknown>;
}

/**
 * Dex's scope policy, run inside the authorization pipeline after the client and redirect_uri
 * were verified (so errors go back to the client as OAuth errors):
 * unknown scopes → invalid_scope; `audience:server:client_id:X` only when X trusts the client;
 * `offline_access` kept without `prompt=consent` (oidc-provider drops it otherwise; Dex does not).
 * Registered as the `connector_id` extra parameter's validator, which checks that one too.
 */
export function scopePolicy(deps: ScopePolicyDeps) {
  return async (
    ctx: KoaContextWithOIDC,
    _value: string | undefined,
    client: { clientId: string; grantTypeAllowed(g: string): boolean },
  ) => {
    const requested = (rawParam(ctx, 'scope') ?? ctx.oidc.params?.scope ?? '').toString().split(' ').filter(Boolean);
    refuseUnknownScopes(requested, { audiences: true });
    for (const s of requested.filter((x) => x.startsWith(AUDIENCE_PREFIX))) {
      const peer = s.slice(AUDIENCE_PREFIX.length);
      if (peer === client.clientId) continue;
      const trusted = await deps.clients.trustedPeersOf(peer);
      if (!trusted || !trusted.includes(client.clientId)) {
        throw new errors.InvalidScope('client is not a trusted peer of the requested audience', s.slice(0, 200));
      }
    }
    // oidc-provider drops scopes it does not know (the audience ones) and offline_access without
    // prompt=consent; put back what passed the policy so the interaction sees it.
    const params = ctx.oidc.params as Record<string, unknown>;
    const allowed = requested.filter((s) => s !== 'offline_access' || client.grantTypeAllowed('refresh_token'));
    params.scope = [...new Set(allowed)].join(' ') || undefined;
    const connectorId = rawParam(ctx, 'connector_id');
    if (connectorId !== undefined && !deps.connectors.has(connectorId)) {
      throw new errors.InvalidRequest('unknown connector_id');
    }
    if (connectorId !== undefined && !(await deps.clients.connectorAllowed(client.clientId, connectorId))) {
      throw new errors.InvalidRequest('connector_id is not allowed for this client');
    }
  };
}
