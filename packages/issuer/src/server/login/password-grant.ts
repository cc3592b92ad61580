/**
 * The resource-owner password grant (Dex's `oauth2.passwordConnector`): the client sends the
 * user's `username` and `password` to `/token`; the configured password connector checks them.
 * Same phases as every grant: client authentication (oidc-provider), scope policy, connector,
 * then the grant and tokens through oidc-provider's own models.
 */
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { canRefresh, isConnectorError, isPasswordConnector } from '@gatehouse/connector-kit';
import { claimsFor, connectorScopes, type IssuerConnector } from '../grants/accounts.ts';
import type { LoginCompletion } from './completion.ts';
import type { ClientDirectory } from '../oidc/clients.ts';
import type { IssuerMetrics } from '../metrics.ts';
import { refuseUnknownScopes } from '../oidc/scopes.ts';
import type { LoginThrottle } from './throttle.ts';
import { clientAddress } from '../http/security.ts';

/** The same bounds as the password form. */
const MAX_USERNAME = 512;
const MAX_PASSWORD = 1024;

export interface PasswordGrantDeps {
  clients: Pick<ClientDirectory, 'connectorAllowed'>;
  login: LoginCompletion;
  connectors: Map<string, IssuerConnector>;
  metrics: IssuerMetrics;
  connectorId: string;
  throttle?: LoginThrottle;
  /** `web.trustedProxies`: whose X-Forwarded-For names the client address. */
  trustedProxies: string[];
}

export function registerPasswordGrant(provider: Provider, deps: PasswordGrantDeps): void {
  const handler = async (ctx: KoaContextWithOIDC) => {
    const params = ctx.oidc.params as Record<string, string | undefined>;
    const client = ctx.oidc.client;
    if (!client) throw new errors.InvalidClient('client authentication failed');
    const username = params.username ?? '';
    const password = params.password ?? '';
    if (username === '' || password === '') throw new errors.InvalidRequest('username and password are required');
    if (username.length > MAX_USERNAME || password.length > MAX_PASSWORD)
      throw new errors.InvalidRequest('username or password is too long');
    const scopes = [...new Set((params.scope ?? '').split(' ').filter(Boolean))];
    refuseUnknownScopes(scopes, { audiences: false });
    if (!scopes.includes('openid')) throw new errors.InvalidScope('openid scope is required', 'openid');

    const opened = deps.connectors.get(deps.connectorId);
    if (!opened || !isPasswordConnector(opened.connector)) throw new errors.UnsupportedGrantType();
    if (!(await deps.clients.connectorAllowed(client.clientId, opened.id))) {
      throw new errors.UnauthorizedClient('the client may not use the password connector');
    }
    const address = clientAddress(ctx.req, deps.trustedProxies);
    // Reserved before the check (see throttle.ts): the form and the grant share the budget.
    const reserved = deps.throttle?.reserve(opened.id, username, address);
    if (reserved && !reserved.ok) {
      deps.metrics.login(opened.id, 'throttled');
      throw new errors.InvalidGrant('too many failed attempts, try again later');
    }
    const attempt = reserved?.attempt;
    let result;
    try {
      result = await opened.connector.login(connectorScopes(scopes), username, password);
    } catch (err) {
      deps.metrics.login(opened.id, 'error');
      if (isConnectorError(err) && (err.code === 'upstream_unavailable' || err.code === 'upstream_error')) {
        attempt?.abandoned();
        throw new errors.TemporarilyUnavailable('the password connector is unavailable');
      }
      attempt?.failed();
      throw new errors.InvalidGrant('invalid username or password');
    }
    if (!result.ok) {
      attempt?.failed();
      deps.metrics.login(opened.id, 'failure');
      throw new errors.InvalidGrant('invalid username or password');
    }
    attempt?.succeeded();
    deps.metrics.login(opened.id, 'success');
    const mayRefresh = client.grantTypeAllowed('refresh_token');
    const login = {
      clientId: client.clientId,
      connector: opened,
      identity: result.identity,
      scopes,
      clientMayRefresh: mayRefresh,
      ctx,
    };
    const { grant, grantId, sub, identity: ext } = await deps.login.complete(provider, login);
    const now = ext.createdAt;
    ctx.oidc.entity('Grant', grant);
    const account = { accountId: sub, claims: () => claimsFor(sub, ext) };
    ctx.oidc.entity('Account', account as never);

    const scope = grant.getOIDCScopeFiltered(new Set(scopes));
    const at = new provider.AccessToken({ accountId: sub, client, grantId, gty: 'password', scope });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken: string | undefined;
    if (scopes.includes('offline_access') && mayRefresh && canRefresh(opened.connector)) {
      const rt = new provider.RefreshToken({
        accountId: sub,
        client,
        grantId,
        gty: 'password',
        scope,
        iiat: now,
      } as never);
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    const idToken = new provider.IdToken({ ...claimsFor(sub, ext), auth_time: now }, { ctx });
    (idToken as unknown as { scope: string }).scope = scope;
    const id_token = await idToken.issue({ use: 'idtoken' });

    ctx.body = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: at.expiration,
      id_token,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope,
    };
  };
  provider.registerGrantType('password', handler as never, ['username', 'password', 'scope']);
}
