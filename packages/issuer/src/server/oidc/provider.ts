/**
 * The oidc-provider instance and every configuration choice, each on purpose (see comments).
 * `buildProvider` is called at start and again after a key rotation (see `keys/key-manager.ts`).
 * The scope policy lives in scopes.ts, the pages oidc-provider shows in http/provider-pages.ts,
 * and each change to oidc-provider's own models in patches/ (one file per patch).
 */
import type Provider from 'oidc-provider';
import { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { canRefresh } from '@gatehouse/connector-kit';
import type { Store } from '@gatehouse/storage';
import type { IssuerConfig } from '../../config/types.ts';
import { createAdapterFactory } from '../store/adapter.ts';
import { Rotation } from '../grants/refresh-rotation.ts';
import { createFindAccount, type GrantIdentities, type IssuerConnector } from '../grants/accounts.ts';
import type { RefreshPolicy } from '../grants/refresh-policy.ts';
import { ANY_LOOPBACK, type ClientDirectory } from './clients.ts';
import type { KeyManager } from '../keys/key-manager.ts';
import type { IssuerMetrics } from '../metrics.ts';
import { errorSummary } from '../http/errors.ts';
import { catchEverything } from '../http/provider-errors.ts';
import { devicePages, errorRenderer, formPostRenderer, logoutPages } from '../http/provider-pages.ts';
import type { PageContext } from '../http/views/pages.ts';
import { DEVICE_CODE_GRANT, grantTypesOffered } from './grant-types.ts';
import { loginEveryTime } from './interaction-policy.ts';
import { listenInternally } from './listeners.ts';
import { providerWithFormPost } from './patches/form-post.ts';
import { applyPatches } from './patches/index.ts';
import { KNOWN_SCOPES, scopePolicy } from './scopes.ts';
import type pino from 'pino';

export interface ProviderDeps {
  config: IssuerConfig;
  store: Store;
  keys: KeyManager;
  clients: ClientDirectory;
  grants: GrantIdentities;
  /** Built once from `expiry` (start.ts), shared by every rebuilt provider. */
  refresh: RefreshPolicy;
  connectors: Map<string, IssuerConnector>;
  metrics: IssuerMetrics;
  logger: pino.Logger;
  pages: PageContext;
  /** Path of the issuer URL (`/dex`, or '' at the root). */
  basePath: string;
}

export function buildProvider(deps: ProviderDeps): Provider {
  const { config, keys } = deps;
  const expiry = config.expiry;
  const grantTypes = grantTypesOffered(config);
  const { refresh } = deps;
  const findAccount = createFindAccount({
    clients: deps.clients,
    grants: deps.grants,
    store: deps.store,
    connectors: deps.connectors,
    refresh,
    logger: deps.logger,
  });
  const rotation = new Rotation({ store: deps.store, policy: refresh });

  const configuration: Configuration = {
    adapter: createAdapterFactory({
      store: deps.store,
      clients: deps.clients,
      refresh,
      rotation,
      onUnavailable: (err) => deps.logger.warn({ err: errorSummary(err) }, 'storage unavailable: answered 503'),
    }),
    clients: deps.clients.staticMetadata(),
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      // The first configured algorithm signs ID tokens (RS256 unless configured otherwise).
      id_token_signed_response_alg: config.signer.algorithms[0] ?? 'RS256',
    },
    findAccount: findAccount as Configuration['findAccount'],
    jwks: keys.providerJWKS() as Configuration['jwks'],
    // Shared by every replica through the Store (see keys/key-manager.ts); keygrip signs with the first.
    // `_session` (and its .sig) stays under the issuer path: on a single host it would otherwise
    // reach the app and forward-auth. `short` gets no path: oidc-provider gives the interaction
    // cookies their own (/dex/interaction/<uid>, /dex/auth/<uid>), which a path here would replace.
    cookies: {
      keys: keys.cookieKeys(),
      long: { httpOnly: true, sameSite: 'lax', path: deps.basePath || '/' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // Dex's claim set, per scope.
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
      'federated:id': ['federated_claims'],
    },
    scopes: [...KNOWN_SCOPES],
    // Dex puts the scope-requested claims in the ID token; clients (oauth2-proxy, kubectl) read them there.
    conformIdTokenClaims: false,
    // Only the code flow: implicit and hybrid leak tokens through the browser.
    responseTypes: ['code'],
    // Exact redirect_uri matching always, even for single-URI clients.
    allowOmittingSingleRegisteredRedirectUri: false,
    extraParams: { connector_id: scopePolicy(deps) as never },
    extraClientMetadata: { properties: [ANY_LOOPBACK] },
    // S256 only (oidc-provider 9 has no `plain`); required for public clients always.
    pkce: {
      required: (_ctx, client) => config.oauth2.pkce.enforce || client.clientAuthMethod === 'none',
    },
    features: {
      devInteractions: { enabled: false },
      // Dex's introspection is open; ours requires client authentication, and a client only
      // learns about its own tokens or those of clients that list it in trustedPeers.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (client.clientAuthMethod === 'none') return false;
          if (token.clientId === client.clientId) return true;
          const peers = token.clientId ? await deps.clients.trustedPeersOf(token.clientId) : undefined;
          return peers?.includes(client.clientId) ?? false;
        },
      },
      // A client revokes only its own tokens.
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        ...logoutPages(deps.pages),
      },
      // RFC 8628, as Dex: on when the device-code grant is offered; our pages, no scripts.
      deviceFlow: {
        enabled: grantTypes.includes(DEVICE_CODE_GRANT),
        charset: 'base-20',
        mask: '****-****',
        ...devicePages(deps.pages),
      },
      // Off: no Gatehouse RP sends DPoP proofs, and each proof costs a ReplayDetection write
      // in the Store (etcd with the Kubernetes backend). Dex does not offer it either.
      dPoP: { enabled: false },
      // Off: tokens are for the requesting client (and its audience peers), as in Dex.
      resourceIndicators: { enabled: false },
      registration: { enabled: false },
      // Only when listed in oauth2.grantTypes (Dex master keeps it off by default too).
      clientCredentials: { enabled: grantTypes.includes('client_credentials') },
    },
    ttl: {
      AccessToken: expiry.idTokens,
      IdToken: expiry.idTokens,
      ClientCredentials: expiry.idTokens,
      AuthorizationCode: expiry.authCodes,
      Interaction: expiry.authRequests,
      DeviceCode: expiry.deviceRequests,
      Session: expiry.idTokens,
      // An offline grant lives as long as its refresh tokens may; others as long as their tokens.
      Grant: (_ctx, grant) => refresh.grantTTL(grant.getOIDCScope().split(' ').includes('offline_access')),
      // Each (rotated) refresh token lives for the idle window, never past the absolute lifetime
      // counted from the first issue (`iiat`).
      RefreshToken: (_ctx, token) => refresh.tokenTTL(token.iiat),
    },
    rotateRefreshToken: () => refresh.rotation,
    // offline_access → a refresh token, without a forced consent prompt (Dex behaviour), and only
    // when the grant's connector can refresh the user upstream.
    issueRefreshToken: async (_ctx, client, code) => {
      if (!client.grantTypeAllowed('refresh_token') || !code.scopes.has('offline_access')) return false;
      const grantId = (code as { grantId?: string }).grantId;
      const ext = grantId ? await deps.grants.load(grantId, _ctx) : undefined;
      const opened = ext ? deps.connectors.get(ext.connectorId) : undefined;
      return opened !== undefined && canRefresh(opened.connector);
    },
    interactions: {
      url: (_ctx, interaction) => `${deps.basePath}/interaction/${interaction.uid}`,
      policy: loginEveryTime(),
    },
    renderError: errorRenderer(deps.pages),
    clientBasedCORS: (_ctx, origin) =>
      config.web.allowedOrigins.includes('*') || config.web.allowedOrigins.includes(origin),
    // Dex's endpoint paths, so Dex clients configured with explicit URLs keep working.
    routes: {
      authorization: '/auth',
      token: '/token',
      userinfo: '/userinfo',
      jwks: '/keys',
      introspection: '/token/introspect',
      revocation: '/token/revoke',
      end_session: '/logout',
      device_authorization: '/device/code',
      code_verification: '/device',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'],
    },
  };

  // form_post responses rendered by us, without upstream's inline script (patches/form-post.ts).
  const FormPostProvider = providerWithFormPost(formPostRenderer(deps.pages));
  const provider = new FormPostProvider(config.issuer, configuration);
  catchEverything(provider, deps);
  applyPatches(provider, {
    grants: deps.grants,
    keys,
    rotation,
  });

  const onGrant = (ctx: KoaContextWithOIDC) => {
    const gt = (ctx.oidc.params as { grant_type?: unknown } | undefined)?.grant_type;
    if (typeof gt === 'string') deps.metrics.tokenIssued(gt);
  };
  const onServerError = (ctx: KoaContextWithOIDC | undefined, err: Error) => {
    deps.logger.error({ err: errorSummary(err), method: ctx?.method, path: ctx?.path }, 'oidc-provider server error');
  };
  listenInternally(provider, 'grant.success', onGrant);
  listenInternally(provider, 'server_error', onServerError);
  return provider;
}
