/**
 * The end of every login, whichever way the user proved who they are (the browser's login pages,
 * the password grant, and next MFA): the oidc-provider Grant with its OIDC scopes, our identity
 * beside it (connector, Identity, audiences, refresh bookkeeping), and the upstream refresh state
 * of an offline login in `store.offlineSessions`.
 */
import type Provider from 'oidc-provider';
import { canRefresh, type Identity } from '@gatehouse/connector-kit';
import type { Store } from '@gatehouse/storage';
import {
  publicIdentity,
  subjectFor,
  type GrantIdentities,
  type GrantIdentity,
  type IssuerConnector,
} from '../grants/accounts.ts';
import type { RefreshPolicy } from '../grants/refresh-policy.ts';
import { audiencesOf, oidcScopes } from '../oidc/scopes.ts';

export interface LoginCompletionDeps {
  store: Pick<Store, 'offlineSessions'>;
  grants: GrantIdentities;
  refresh: RefreshPolicy;
}

export interface Login {
  clientId: string;
  connector: IssuerConnector;
  identity: Identity;
  /** The scopes that passed the scope policy (oidc/scopes.ts). */
  scopes: readonly string[];
  /** The client may use the refresh_token grant (the scope policy keeps offline_access only then). */
  clientMayRefresh: boolean;
  /** The request, when the caller goes on to issue tokens in it (the grant is read once). */
  ctx?: object;
}

export interface CompletedLogin {
  grant: InstanceType<Provider['Grant']>;
  grantId: string;
  /** The `sub` claim. */
  sub: string;
  identity: GrantIdentity;
}

export class LoginCompletion {
  readonly #deps: LoginCompletionDeps;

  constructor(deps: LoginCompletionDeps) {
    this.#deps = deps;
  }

  async complete(provider: Provider, login: Login): Promise<CompletedLogin> {
    const { clientId, connector, identity, scopes } = login;
    const sub = subjectFor(identity, connector.id);
    const grant = new provider.Grant({ accountId: sub, clientId });
    const known = oidcScopes(scopes);
    if (known.length > 0) grant.addOIDCScope(known.join(' '));
    const grantId = await grant.save();
    const now = this.#deps.refresh.now();
    const ext: GrantIdentity = {
      connectorId: connector.id,
      identity: publicIdentity(identity),
      audience: audiencesOf(scopes),
      createdAt: now,
      lastUsed: now,
    };
    const offline = scopes.includes('offline_access');
    await this.#deps.grants.attach(grantId, ext, {
      ttl: this.#deps.refresh.grantTTL(offline),
      ...(login.ctx ? { ctx: login.ctx } : {}),
    });
    // Kept only where a refresh token can come of the grant: nothing else reads it back (grants/accounts.ts).
    if (offline && login.clientMayRefresh && canRefresh(connector.connector) && identity.connectorData !== undefined) {
      await this.#deps.store.offlineSessions.upsert({
        userId: identity.userId,
        connectorId: connector.id,
        connectorData: identity.connectorData,
        updatedAt: Date.now(),
      });
    }
    return { grant, grantId, sub, identity: ext };
  }
}
