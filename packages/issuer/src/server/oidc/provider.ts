/**
 * The oidc-provider instance and every configuration choice, each on purpose (see comments).
 * `buildProvider` is called at start and again after a key rotation (see `keys/key-manager.ts`).
 */
import type { EventEmitter } from 'node:events';
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { canRefresh } from '@gatehouse/connector-kit';
import type { Store } from '@gatehouse/storage';
import type { IssuerConfig } from '../../config/types.ts';
import { createAdapterFactory } from '../store/adapter.ts';
import { patchRefreshRotation } from '../grants/refresh-rotation.ts';
import {
  AUDIENCE_PREFIX,
  createFindAccount,
  grantTTL,
  type GrantIdentities,
  type IssuerConnector,
} from '../grants/accounts.ts';
import { ANY_LOOPBACK, isLoopbackRedirect, type ClientDirectory } from './clients.ts';
import type { KeyManager } from '../keys/key-manager.ts';
import type { IssuerMetrics } from '../metrics.ts';
import { contentSecurityPolicy, handoffFormTargets } from '../http/security.ts';
import {
  continuePage,
  deviceCodePage,
  deviceConfirmPage,
  deviceDonePage,
  errorPage,
  loggedOutPage,
  logoutPage,
  parseAutoSubmitPage,
  type PageContext,
} from '../http/views/pages.ts';
import type pino from 'pino';

/** Scopes Dex knows; anything else (except audience scopes) is `invalid_scope`, as in Dex. */
export const KNOWN_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'groups', 'federated:id'] as const;

export interface ProviderDeps {
  config: IssuerConfig;
  store: Store;
  keys: KeyManager;
  clients: ClientDirectory;
  grants: GrantIdentities;
  connectors: Map<string, IssuerConnector>;
  metrics: IssuerMetrics;
  logger: pino.Logger;
  pages: PageContext;
  /** Path of the issuer URL (`/dex`, or '' at the root). */
  basePath: string;
}

/** The raw authorization-request parameter, before oidc-provider rewrote `scope`. */
function rawParam(ctx: KoaContextWithOIDC, name: string): string | undefined {
  const source = (ctx.method === 'POST' ? (ctx.oidc as unknown as { body?: Record<string, unknown> }).body : ctx.query) ?? {};
  const v = (source as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Dex's scope policy, run inside the authorization pipeline after the client and redirect_uri
 * were verified (so errors go back to the client as OAuth errors):
 * unknown scopes → invalid_scope; `audience:server:client_id:X` only when X trusts the client;
 * `offline_access` kept without `prompt=consent` (oidc-provider drops it otherwise; Dex does not).
 */
function scopePolicy(deps: ProviderDeps) {
  return async (ctx: KoaContextWithOIDC, _value: string | undefined, client: { clientId: string; grantTypeAllowed(g: string): boolean }) => {
    const requested = (rawParam(ctx, 'scope') ?? ctx.oidc.params?.scope ?? '').toString().split(' ').filter(Boolean);
    const unknown = requested.filter((s) => !(KNOWN_SCOPES as readonly string[]).includes(s) && !s.startsWith(AUDIENCE_PREFIX));
    if (unknown.length > 0) {
      throw new errors.InvalidScope('unrecognized scope(s)', unknown.join(' ').slice(0, 200));
    }
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

/** The interaction policy: oidc-provider's, plus "every authorization request logs in through a
 * connector" (Dex behaviour: no silent SSO from an issuer session; upstream SSO still applies). */
function policy() {
  const { base, Check } = interactionPolicy;
  const p = base();
  const login = p.get('login');
  login?.checks.add(
    new Check('connector_login', 'every authorization logs in through a connector', (ctx: KoaContextWithOIDC) => {
      const result = (ctx.oidc as unknown as { result?: { login?: unknown } }).result;
      return ctx.oidc.route.endsWith('resume') && result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return p;
}

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function grantTypesOffered(config: IssuerConfig): string[] {
  const implemented = new Set(['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT]);
  if (config.oauth2.passwordConnector) implemented.add('password');
  return config.oauth2.grantTypes.filter((g) => implemented.has(g));
}

/** Listeners `buildProvider` adds itself; anything else on a provider was added by a user of
 * `RunningIssuer.provider` and moves to the rebuilt provider after a key rotation. */
export const INTERNAL_LISTENERS = new WeakSet<(...args: never[]) => unknown>();

export function buildProvider(deps: ProviderDeps): Provider {
  const { config, keys } = deps;
  const expiry = config.expiry;
  const grantTypes = grantTypesOffered(config);
  const refresh = expiry.refreshTokens;
  const findAccount = createFindAccount({
    clients: deps.clients,
    grants: deps.grants,
    store: deps.store,
    connectors: deps.connectors,
    expiry,
    logger: deps.logger,
  });

  const configuration: Configuration = {
    adapter: createAdapterFactory({
      store: deps.store,
      clients: deps.clients,
      refreshReuseInterval: refresh.disableRotation ? 0 : refresh.reuseInterval,
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
        logoutSource: async (ctx, form) => {
          // The confirmation ends in the client's post_logout_redirect_uri and whatever it leads
          // on to (see handoffFormTargets).
          const uris = ctx.oidc.client?.postLogoutRedirectUris ?? [];
          ctx.set('Content-Security-Policy', contentSecurityPolicy(handoffFormTargets(uris)));
          ctx.type = 'html';
          const client = ctx.oidc.client;
          ctx.body = logoutPage(deps.pages, { form, clientName: client?.clientName ?? client?.clientId });
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
          ctx.type = 'html';
          const client = ctx.oidc.client;
          ctx.body = loggedOutPage(deps.pages, { clientName: client?.clientName ?? client?.clientId });
        },
      },
      // RFC 8628, as Dex: on when the device-code grant is offered; our pages, no scripts.
      deviceFlow: {
        enabled: grantTypes.includes(DEVICE_CODE_GRANT),
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: async (ctx, form, _out, err) => {
          ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
          ctx.type = 'html';
          const error = err
            ? (err as { userCode?: unknown }).userCode || err.name === 'NoCodeError'
              ? 'The code you entered is not valid. Check it and try again.'
              : err.name === 'AbortedError'
                ? 'The request was cancelled.'
                : 'The code could not be checked. Start again on your device.'
            : undefined;
          ctx.body = deviceCodePage(deps.pages, { form, ...(error ? { error } : {}) });
        },
        userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
          // Confirming redirects to the interaction, which stops at a page of ours for device logins
          // (login/routes.ts), so the chain that follows this form never leaves the issuer.
          ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
          ctx.type = 'html';
          ctx.body = deviceConfirmPage(deps.pages, { form, clientName: client.clientName ?? client.clientId, userCode });
        },
        successSource: async (ctx) => {
          ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
          ctx.type = 'html';
          ctx.body = deviceDonePage(deps.pages, { clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId });
        },
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
      Grant: (_ctx, grant) => grantTTL(expiry, grant.getOIDCScope().split(' ').includes('offline_access')),
      // Each (rotated) refresh token lives for the idle window, never past the absolute lifetime
      // counted from the first issue (`iiat`).
      RefreshToken: (_ctx, token) => {
        const now = Math.floor(Date.now() / 1000);
        const first = typeof token.iiat === 'number' ? token.iiat : now;
        const absolute = refresh.absoluteLifetime > 0 ? first + refresh.absoluteLifetime - now : Infinity;
        const idle = refresh.validIfNotUsedFor > 0 && !refresh.disableRotation ? refresh.validIfNotUsedFor : Infinity;
        const ttl = Math.min(absolute, idle, 365 * 86400);
        return Math.max(1, Math.floor(ttl));
      },
    },
    rotateRefreshToken: () => !refresh.disableRotation,
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
      policy: policy(),
    },
    // Browsers get a readable page; JSON clients get the OAuth error object (oidc-provider
    // only calls this for requests that prefer HTML). Never a stack trace.
    renderError: async (ctx, out) => {
      ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
      ctx.type = 'html';
      const message = typeof out.error_description === 'string' ? out.error_description : 'The request could not be completed.';
      ctx.body = errorPage(deps.pages, { title: titleForError(String(out.error)), message: `${message} (${String(out.error)})` });
    },
    clientBasedCORS: (_ctx, origin) => config.web.allowedOrigins.includes('*') || config.web.allowedOrigins.includes(origin),
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

  const provider = new Provider(config.issuer, configuration);
  patchUnsavedSessions(provider);
  catchEverything(provider, deps);
  patchAudience(provider, deps.grants);
  patchRetiredKeyHints(provider, keys);
  patchLoopbackRedirects(provider);
  patchRefreshRotation(provider, { store: deps.store, reuseInterval: refresh.disableRotation ? 0 : refresh.reuseInterval });

  const onGrant = (ctx: KoaContextWithOIDC) => {
    const gt = (ctx.oidc.params as { grant_type?: unknown } | undefined)?.grant_type;
    if (typeof gt === 'string') deps.metrics.tokenIssued(gt);
  };
  const onServerError = (ctx: KoaContextWithOIDC | undefined, err: Error) => {
    deps.logger.error({ err: errorSummary(err), method: ctx?.method, path: ctx?.path }, 'oidc-provider server error');
  };
  INTERNAL_LISTENERS.add(onGrant);
  INTERNAL_LISTENERS.add(onServerError);
  provider.on('grant.success', onGrant);
  provider.on('server_error', onServerError);
  return provider;
}

/**
 * oidc-provider re-saves a session its error handler touched (the device pages keep their xsrf
 * secret in it) with `persist()`, which throws for a session that was never saved: a cookie-less
 * request to /device/* became a 500. Such a session has no cookie either, so saving it would only
 * leave an orphan record per request: it is skipped.
 */
function patchUnsavedSessions(provider: Provider): void {
  const proto = provider.Session.prototype as unknown as { persist(this: { exp?: unknown }): Promise<unknown> };
  const original = proto.persist;
  proto.persist = async function (this: { exp?: unknown }) {
    if (typeof this.exp !== 'number') return undefined;
    return original.call(this);
  };
}

/**
 * The outermost middleware of the provider: whatever escapes its own error handlers becomes our
 * error page (4xx kept, anything else 500) and a structured log line, never koa's plain-text
 * page; and koa's `error` event goes to pino (koa prints it to stderr when nobody listens).
 */
function catchEverything(provider: Provider, deps: ProviderDeps): void {
  provider.use(async (ctx, next) => {
    try {
      await next();
      if (typeof ctx.body === 'string') replaceAutoSubmit(ctx as KoaContextWithOIDC, deps);
      // No route (or method) of the provider matched: our page rather than koa's plain text.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404 || ctx.status === 405) {
          const status = ctx.status;
          ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
          ctx.type = 'html';
          ctx.body = errorPage(deps.pages, { title: 'Not found', message: 'There is nothing at this address.' });
          ctx.status = status;
        }
      }
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      const clientError = typeof status === 'number' && status >= 400 && status < 500;
      if (!clientError) deps.logger.error({ err: errorSummary(err), method: ctx.method, path: ctx.path }, 'oidc-provider request failed');
      ctx.status = clientError ? status : 500;
      ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
      ctx.type = 'html';
      ctx.body = clientError
        ? errorPage(deps.pages, { title: 'Invalid request', message: 'The request could not be understood.' })
        : errorPage(deps.pages, { title: 'Something went wrong', message: 'The server could not complete the request. Please try again.' });
    }
  });
  const onError = (err: unknown, ctx?: { method?: string; path?: string }) => {
    deps.logger.error({ err: errorSummary(err), method: ctx?.method, path: ctx?.path }, 'oidc-provider error');
  };
  INTERNAL_LISTENERS.add(onError);
  (provider as unknown as EventEmitter).on('error', onError);
}

/**
 * oidc-provider answers a `form_post` response (and a logout without an issuer session) with a
 * page that submits itself through an inline script (whose hash it adds to script-src). We
 * render the same form visibly with a button instead, so no page needs a script or a hash.
 */
function replaceAutoSubmit(ctx: KoaContextWithOIDC, deps: ProviderDeps): void {
  const parsed = parseAutoSubmitPage(ctx.body as string);
  if (!parsed) return;
  const logout = ctx.oidc?.route === 'end_session';
  const client = ctx.oidc?.client;
  const name = client?.clientName ?? client?.clientId;
  // The logout form (a logout without an issuer session) ends like the confirmation page's; the
  // form_post form at the redirect_uri. Either hands the browser to the client (see handoffFormTargets).
  const uris = logout ? (client?.postLogoutRedirectUris ?? []) : [parsed.action];
  ctx.set('Content-Security-Policy', contentSecurityPolicy(handoffFormTargets(uris)));
  ctx.type = 'html';
  ctx.body = logout
    ? continuePage(deps.pages, { title: 'Log out', message: 'Continue to finish logging out.', button: 'Continue', ...parsed })
    : continuePage(deps.pages, {
        title: 'Return to the application',
        message: name ? `Continue to ${name}.` : 'Continue to the application.',
        button: 'Continue',
        ...parsed,
      });
}

/** What is logged of an error: its kind and message, and the stack (code locations, no data). */
export function errorSummary(err: unknown): { name: string; message: string; stack?: string } {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err).slice(0, 200) };
  // Bounded: some messages quote input (JSON.parse shows a snippet).
  return { name: err.name, message: err.message.slice(0, 200), ...(err.stack ? { stack: err.stack.split('\n').slice(1, 6).join('\n') } : {}) };
}

function titleForError(code: string): string {
  switch (code) {
    case 'invalid_client':
      return 'Unknown application';
    case 'invalid_redirect_uri':
      return 'Invalid redirect';
    case 'access_denied':
      return 'Access denied';
    case 'invalid_request':
    case 'invalid_scope':
      return 'Invalid request';
    default:
      return 'Something went wrong';
  }
}

/**
 * Cross-client audiences (Dex's trustedPeers): the ID token of a grant that was allowed
 * `audience:server:client_id:X` carries aud = [X…, client] and azp = client. oidc-provider
 * always signs `aud = client.clientId`, so for such grants the IdToken sees a client whose
 * `clientId` is the audience list.
 */
function patchAudience(provider: Provider, grants: GrantIdentities): void {
  const IdToken = provider.IdToken as unknown as { prototype: { issue(this: IdTokenThis, opts?: { use?: string }): Promise<string> } };
  const original = IdToken.prototype.issue;
  IdToken.prototype.issue = async function (this: IdTokenThis, opts?: { use?: string }) {
    const grantId = this.ctx?.oidc?.entities?.Grant?.jti;
    if (opts?.use === 'idtoken' && grantId) {
      const ext = await grants.load(grantId, this.ctx);
      const client = this.client;
      const peers = (ext?.audience ?? []).filter((a) => a !== client.clientId);
      if (peers.length > 0) {
        this.set('azp', client.clientId);
        this.client = withClientId(client, [...peers, client.clientId]);
      }
    }
    return original.call(this, opts);
  };
}

interface IdTokenThis {
  ctx?: { oidc?: { entities?: { Grant?: { jti?: string } } } };
  client: { clientId: string } & object;
  set(key: string, value: unknown): void;
}

function withClientId<T extends object>(client: T, clientId: unknown): T {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'clientId') return clientId;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * oidc-provider verifies an `id_token_hint` (logout, authorization) with its signing keys only,
 * so a hint signed before a key rotation was refused. When that fails and the hint names a
 * retired key we still publish, it is verified with that public key under the same rules
 * (algorithm of the client, issuer, audience, subject; expiry ignored, as oidc-provider does).
 */
function patchRetiredKeyHints(provider: Provider, keys: KeyManager): void {
  type Verified = { payload: Record<string, unknown>; header: Record<string, unknown> };
  const IdToken = provider.IdToken as unknown as { validate(jwt: string, client: { clientId: string; idTokenSignedResponseAlg: string }): Promise<Verified> };
  const original = IdToken.validate.bind(IdToken);
  IdToken.validate = async (jwt, client) => {
    try {
      return await original(jwt, client);
    } catch (err) {
      const verified = await verifyWithRetiredKey(jwt, client, provider.issuer, keys).catch(() => undefined);
      if (!verified) throw err;
      return verified;
    }
  };
}

async function verifyWithRetiredKey(
  jwt: string,
  client: { clientId: string; idTokenSignedResponseAlg: string },
  issuer: string,
  keys: KeyManager,
): Promise<{ payload: Record<string, unknown>; header: Record<string, unknown> } | undefined> {
  const alg = client.idTokenSignedResponseAlg;
  if (typeof jwt !== 'string' || alg.startsWith('HS')) return undefined;
  const header = decodeProtectedHeader(jwt);
  if (header.alg !== alg || typeof header.kid !== 'string') return undefined;
  const current = new Set(keys.providerJWKS().keys.map((k) => k.kid));
  const jwk = keys.publicJWKS().keys.find((k) => k.kid === header.kid && !current.has(k.kid));
  if (!jwk) return undefined;
  await compactVerify(jwt, await importJWK(jwk as Parameters<typeof importJWK>[0], alg), { algorithms: [alg] });
  const payload = decodeJwt(jwt) as Record<string, unknown>;
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (payload.iss !== issuer || !aud.includes(client.clientId) || typeof payload.sub !== 'string') return undefined;
  return { payload, header: header as Record<string, unknown> };
}

/**
 * Dex's redirect matching: exact, for every client (oidc-provider would let a native client's
 * loopback URI match on any port), plus any http loopback URL for public clients registered
 * without redirect URIs (ANY_LOOPBACK, see clients.ts).
 */
function patchLoopbackRedirects(provider: Provider): void {
  type Patched = { redirectUris?: string[]; postLogoutRedirectUris?: string[] } & Record<string, unknown>;
  const proto = provider.Client.prototype as unknown as {
    redirectUriAllowed(this: Patched, value: string): boolean;
    postLogoutRedirectUriAllowed(this: Patched, value: string): boolean;
  };
  proto.redirectUriAllowed = function (this: Patched, value: string) {
    if (typeof value !== 'string') return false;
    if (this.redirectUris?.includes(value)) return true;
    return this[ANY_LOOPBACK] === true && isLoopbackRedirect(value);
  };
  proto.postLogoutRedirectUriAllowed = function (this: Patched, value: string) {
    return typeof value === 'string' && (this.postLogoutRedirectUris?.includes(value) ?? false);
  };
}
