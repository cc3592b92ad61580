/**
 * The login UI between oidc-provider's authorization endpoint and its resume endpoint:
 * connector choice, password form, upstream redirect and callback, approval.
 *
 * State binding: an upstream gets `state = interaction uid`. `{issuer}/callback` only 303s the
 * browser to `{issuer}/interaction/<state>/callback`, the path the interaction cookie is scoped
 * to (a form_post answer goes on there as a POST from a Continue page, never in a URL); there `interactionDetails` must find this browser's own interaction with the same uid, so
 * a callback carrying someone else's state (login CSRF) finds no session and is refused.
 * The connector's per-login state (`keep`: PKCE verifier, nonce) waits in `interaction.result`.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import {
  isCallbackConnector,
  isConnectorError,
  isPasswordConnector,
  statusForConnectorError,
  type CallbackRequest,
  type Identity,
} from '@gatehouse/connector-kit';
import type { Store } from '@gatehouse/storage';
import type { IssuerConfig } from '../../config/types.ts';
import { connectorScopes, type GrantIdentities, type IssuerConnector } from '../grants/accounts.ts';
import type { ClientDirectory } from '../oidc/clients.ts';
import type { IssuerMetrics } from '../metrics.ts';
import { audiencesOf } from '../oidc/scopes.ts';
import type { LoginCompletion } from './completion.ts';
import { sendPage } from '../http/respond.ts';
import { exactFormTargets } from '../http/security.ts';
import {
  approvalPage,
  connectorSelectionPage,
  continuePage,
  errorPage,
  movingOnPage,
  passwordPage,
  type PageContext,
} from '../http/views/pages.ts';
import { loginExpired, PageError } from '../http/errors.ts';
import { readForm } from '../http/form.ts';
import type { LoginThrottle } from './throttle.ts';
import { isStorageUnavailable } from '../store/adapter.ts';

export interface InteractionDeps {
  provider(): Provider;
  config: IssuerConfig;
  store: Store;
  connectors: Map<string, IssuerConnector>;
  clients: ClientDirectory;
  grants: GrantIdentities;
  login: LoginCompletion;
  metrics: IssuerMetrics;
  throttle: LoginThrottle;
  pages: PageContext;
  basePath: string;
  callbackURL: string;
  logger: {
    warn(obj: object, msg?: string): void;
    info(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
}

/** What we keep in `interaction.result.gatehouse` between requests. */
interface LoginState {
  connectorId: string;
  keep?: unknown;
  identity?: Identity;
}

interface Details {
  uid: string;
  /** Set on device-flow (RFC 8628) interactions. */
  deviceCode?: string;
  params: Record<string, unknown>;
  result?: { gatehouse?: LoginState } & Record<string, unknown>;
}

const UID = /^[A-Za-z0-9_-]{1,128}$/;

export function interactionRouter(deps: InteractionDeps): Router {
  const router = new Router({ prefix: deps.basePath || undefined });
  const base = deps.basePath;
  const interactionPath = (uid: string) => `${base}/interaction/${uid}`;

  async function details(ctx: Context, uid: string): Promise<Details> {
    if (!UID.test(uid)) throw loginExpired();
    let d: Details;
    try {
      d = (await deps.provider().interactionDetails(ctx.req, ctx.res)) as unknown as Details;
    } catch (err) {
      // A store that did not answer is a retryable 503, not a login that is gone.
      if (isStorageUnavailable(err)) throw err;
      throw loginExpired();
    }
    if (d.uid !== uid) throw loginExpired();
    return d;
  }

  /** Where forms on this interaction's pages may end up: us and the client's redirect_uri origin
   * (exact origins, see exactFormTargets; a submission never leads into a redirect chain). */
  function formTargets(d: Details): string[] {
    return exactFormTargets(typeof d.params.redirect_uri === 'string' ? [d.params.redirect_uri] : []);
  }

  /**
   * Sends the browser on to `url` (oidc-provider's resume endpoint). After a form submission a
   * page of ours that moves on by itself (meta refresh), not a 303: Chromium applies the form
   * page's form-action to every redirect of the submission's navigation, and from the resume the
   * chain goes to the client's callback and on to wherever the client sends the browser (`rd` on
   * the app host), which no exact list can name. The refresh is a navigation of its own.
   */
  function continueTo(ctx: Context, url: string): void {
    if (ctx.method === 'POST') {
      sendPage(ctx, 200, movingOnPage(deps.pages, { href: url }));
      return;
    }
    ctx.redirect(url);
    ctx.status = 303;
  }

  function connector(id: string): IssuerConnector {
    const c = deps.connectors.get(id);
    if (!c) throw new PageError(404, 'Unknown login method', 'This login method does not exist.');
    return c;
  }

  /** The connector, when the interaction's client may use it (Dex's allowedConnectors). */
  async function connectorFor(d: Details, id: string): Promise<IssuerConnector> {
    const c = connector(id);
    if (!(await deps.clients.connectorAllowed(String(d.params.client_id), c.id))) throw notAllowed();
    return c;
  }

  function notAllowed(): PageError {
    return new PageError(403, 'Login method not allowed', 'This application cannot be used with this login method.');
  }

  function scopesOf(d: Details): string[] {
    return typeof d.params.scope === 'string' ? d.params.scope.split(' ').filter(Boolean) : [];
  }

  async function saveState(ctx: Context, state: LoginState): Promise<void> {
    await deps.provider().interactionResult(ctx.req, ctx.res, { gatehouse: state }, { mergeWithLastSubmission: false });
  }

  /** Issues the grant and sends the browser back to oidc-provider to finish the authorization. */
  async function complete(ctx: Context, d: Details, connectorId: string, identity: Identity): Promise<void> {
    const provider = deps.provider();
    const clientId = String(d.params.client_id);
    // The last gate before a grant exists (the client's list may have changed mid-login).
    if (!(await deps.clients.connectorAllowed(clientId, connectorId))) throw notAllowed();
    // The scope policy (oidc/scopes.ts) kept offline_access only for clients that may refresh.
    const { sub, grantId } = await deps.login.complete(provider, {
      clientId,
      connector: connector(connectorId),
      identity,
      scopes: scopesOf(d),
      clientMayRefresh: true,
    });
    const returnTo = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: sub, remember: false }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    continueTo(ctx, returnTo);
  }

  /** A connector vouched for the user: approval screen, or straight back to the client. */
  async function loggedIn(ctx: Context, d: Details, connectorId: string, identity: Identity): Promise<void> {
    deps.metrics.login(connectorId, 'success');
    deps.logger.info({ connector: connectorId, client: d.params.client_id }, 'login succeeded');
    if (deps.config.oauth2.skipApprovalScreen) {
      await complete(ctx, d, connectorId, identity);
      return;
    }
    await saveState(ctx, { connectorId, identity });
    const clientId = String(d.params.client_id);
    const client = await deps.clients.get(clientId);
    const scopes = scopesOf(d);
    sendPage(
      ctx,
      200,
      approvalPage(deps.pages, {
        clientName: client?.name || clientId,
        scopes,
        audiences: audiencesOf(scopes),
        action: `${interactionPath(d.uid)}/approve`,
      }),
      formTargets(d),
    );
  }

  function connectorFailure(ctx: Context, d: Details, opened: IssuerConnector, err: unknown): void {
    if (!isConnectorError(err)) throw err;
    deps.metrics.login(opened.id, 'error');
    deps.logger.warn({ connector: opened.id, code: err.code, err: err.message }, 'connector refused the login');
    const status = statusForConnectorError(err.code);
    const retry =
      status === 502 || status === 400
        ? `${interactionPath(d.uid)}/connector/${encodeURIComponent(opened.id)}`
        : undefined;
    const title = status === 403 ? 'Access denied' : status === 502 ? 'Login provider unavailable' : 'Login failed';
    const fallback =
      status === 403
        ? 'You are not allowed to use this application.'
        : status === 502
          ? `${opened.name} could not be reached. Please try again in a moment.`
          : 'The login could not be completed. Please start again.';
    if (err.retryAfter !== undefined) ctx.set('Retry-After', String(err.retryAfter));
    sendPage(
      ctx,
      status === 500 ? 502 : status,
      errorPage(deps.pages, { title, message: err.userMessage ?? fallback, ...(retry ? { retryHref: retry } : {}) }),
    );
  }

  // Connector choice (Dex's /auth page).
  router.get('/interaction/:uid', async (ctx) => {
    const d = await details(ctx, ctx.params.uid ?? '');
    const requested = typeof d.params.connector_id === 'string' ? d.params.connector_id : undefined;
    const clientId = String(d.params.client_id);
    const all: IssuerConnector[] = [];
    for (const c of deps.connectors.values()) if (await deps.clients.connectorAllowed(clientId, c.id)) all.push(c);
    if (all.length === 0) throw notAllowed();
    const only =
      requested !== undefined
        ? await connectorFor(d, requested)
        : all.length === 1 && !deps.config.oauth2.alwaysShowLoginScreen
          ? all[0]
          : undefined;
    // A device-flow login arrives here by the redirect that follows the device confirmation
    // form, and Chromium applies that page's form-action to the whole redirect chain. Going on
    // to an upstream IdP (an origin we cannot know before loginURL) would need `https:` there;
    // the page with a link ends the chain instead, so the device pages keep form-action 'self'.
    const offSite = only !== undefined && d.deviceCode !== undefined && isCallbackConnector(only.connector);
    if (only !== undefined && !offSite) {
      ctx.redirect(`${interactionPath(d.uid)}/connector/${encodeURIComponent(only.id)}`);
      ctx.status = 303;
      return;
    }
    const listed = only !== undefined ? [only] : all;
    sendPage(
      ctx,
      200,
      connectorSelectionPage(
        deps.pages,
        listed.map((c) => ({ name: c.name, href: `${interactionPath(d.uid)}/connector/${encodeURIComponent(c.id)}` })),
      ),
    );
  });

  // Start a connector: redirect upstream, or show the password form.
  router.get('/interaction/:uid/connector/:connectorId', async (ctx) => {
    const d = await details(ctx, ctx.params.uid ?? '');
    const opened = await connectorFor(d, ctx.params.connectorId ?? '');
    const c = opened.connector;
    if (isCallbackConnector(c)) {
      let redirect;
      try {
        redirect = await c.loginURL(connectorScopes(scopesOf(d)), deps.callbackURL, d.uid);
      } catch (err) {
        connectorFailure(ctx, d, opened, err);
        return;
      }
      await saveState(ctx, { connectorId: opened.id, keep: redirect.keep });
      ctx.redirect(redirect.url);
      ctx.status = 303;
      return;
    }
    if (isPasswordConnector(c)) {
      sendPage(ctx, 200, passwordForm(d, opened), formTargets(d));
      return;
    }
    throw new PageError(500, 'Login method unavailable', 'This login method cannot be used.');
  });

  function passwordForm(d: Details, opened: IssuerConnector, username?: string, error?: string): string {
    const c = opened.connector;
    return passwordPage(deps.pages, {
      connectorName: opened.name,
      prompt: isPasswordConnector(c) ? c.prompt || 'Username' : 'Username',
      action: `${interactionPath(d.uid)}/connector/${encodeURIComponent(opened.id)}/login`,
      ...(username !== undefined ? { username } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(deps.connectors.size > 1 ? { backHref: interactionPath(d.uid) } : {}),
    });
  }

  // The password form (field names `login` and `password`, as Dex).
  router.post('/interaction/:uid/connector/:connectorId/login', async (ctx) => {
    const d = await details(ctx, ctx.params.uid ?? '');
    const opened = await connectorFor(d, ctx.params.connectorId ?? '');
    const c = opened.connector;
    if (!isPasswordConnector(c))
      throw new PageError(404, 'Unknown login method', 'This login method has no password form.');
    const form = await readForm(ctx);
    const username = (form.login ?? '').slice(0, 512);
    const password = (form.password ?? '').slice(0, 1024);
    if (username.trim() === '' || password === '') {
      sendPage(ctx, 400, passwordForm(d, opened, username, 'Enter your username and password.'), formTargets(d));
      return;
    }
    const address = ctx.ip || 'unknown';
    // Reserved before the check, so concurrent guesses cannot all pass a check-then-record gap.
    const reserved = deps.throttle.reserve(opened.id, username, address);
    if (!reserved.ok) {
      const minutes = Math.max(1, Math.ceil(reserved.retryAfterMs / 60_000));
      deps.metrics.login(opened.id, 'throttled');
      ctx.set('Retry-After', String(Math.ceil(reserved.retryAfterMs / 1000)));
      sendPage(
        ctx,
        429,
        passwordForm(
          d,
          opened,
          username,
          `Too many attempts, try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        ),
        formTargets(d),
      );
      return;
    }
    const { attempt } = reserved;
    let result;
    try {
      result = await c.login(connectorScopes(scopesOf(d)), username, password);
    } catch (err) {
      // An unreachable upstream said nothing about the password; anything else counts.
      if (isConnectorError(err) && statusForConnectorError(err.code) === 502) attempt.abandoned();
      else attempt.failed();
      connectorFailure(ctx, d, opened, err);
      return;
    }
    if (!result.ok) {
      attempt.failed();
      deps.metrics.login(opened.id, 'failure');
      // Same words whether or not the account exists.
      sendPage(ctx, 401, passwordForm(d, opened, username, 'Invalid username or password.'), formTargets(d));
      return;
    }
    attempt.succeeded();
    await loggedIn(ctx, d, opened.id, result.identity);
  });

  /** The interaction a callback's `state` names (only read: for the page's CSP). */
  async function interactionOf(state: string | undefined): Promise<Details> {
    if (!state || !UID.test(state)) {
      throw new PageError(
        400,
        'Invalid login response',
        'The response from the login provider does not belong to a login in progress.',
      );
    }
    const found = (await deps
      .provider()
      .Interaction.find(state)
      .catch((err: unknown) => {
        if (isStorageUnavailable(err)) throw err;
        return undefined;
      })) as unknown as Details | undefined;
    if (!found) throw loginExpired();
    return found;
  }

  // Upstreams return here. Only forwards to the interaction-scoped path (where the cookie is sent).
  router.get('/callback', async (ctx) => {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : undefined;
    if (!state || !UID.test(state)) {
      throw new PageError(
        400,
        'Invalid login response',
        'The response from the login provider does not belong to a login in progress.',
      );
    }
    ctx.redirect(`${interactionPath(state)}/callback?${ctx.querystring}`);
    ctx.status = 303;
  });

  // A `form_post` answer (codes, ID tokens) arrives cross-site, without the interaction cookie
  // (SameSite=Lax, path-scoped). Its fields must not travel on in a URL (history, logs, Referer),
  // so they go on as a same-site POST from a page of ours: a visible "Continue" button, since the
  // pages run no script. Nothing is stored; the interaction is only read for the page's CSP.
  router.post('/callback', async (ctx) => {
    const form = await readForm(ctx);
    const d = await interactionOf(form.state);
    sendPage(
      ctx,
      200,
      continuePage(deps.pages, {
        title: 'Continue logging in',
        message: 'Your login provider has answered. Continue to finish logging in.',
        action: `${interactionPath(d.uid)}/callback`,
        fields: Object.entries(form),
        button: 'Continue',
      }),
      formTargets(d),
    );
  });

  async function upstreamAnswered(ctx: Context, request: (url: URL) => CallbackRequest): Promise<void> {
    const d = await details(ctx, ctx.params.uid ?? '');
    const state = d.result?.gatehouse;
    if (!state?.connectorId) {
      throw new PageError(
        400,
        'Invalid login response',
        'The response from the login provider does not belong to this login.',
      );
    }
    const opened = await connectorFor(d, state.connectorId);
    const c = opened.connector;
    if (!isCallbackConnector(c))
      throw new PageError(400, 'Invalid login response', 'This login method does not use callbacks.');
    let identity: Identity;
    try {
      identity = await c.handleCallback(connectorScopes(scopesOf(d)), state.keep, request(new URL(deps.callbackURL)));
    } catch (err) {
      connectorFailure(ctx, d, opened, err);
      return;
    }
    await loggedIn(ctx, d, opened.id, identity);
  }

  // A query answer: the connector sees a GET with the query, whatever the query says.
  router.get('/interaction/:uid/callback', async (ctx) => {
    await upstreamAnswered(ctx, (url) => {
      url.search = ctx.querystring;
      return { url, method: 'GET' };
    });
  });

  // A form_post answer, re-posted by the Continue page above: a POST (same-site, so the
  // interaction cookie comes along; a cross-site POST finds no interaction and is refused).
  router.post('/interaction/:uid/callback', async (ctx) => {
    const form = await readForm(ctx);
    await upstreamAnswered(ctx, (url) => ({ url, method: 'POST', form }));
  });

  router.post('/interaction/:uid/approve', async (ctx) => {
    const d = await details(ctx, ctx.params.uid ?? '');
    const state = d.result?.gatehouse;
    if (!state?.identity || !state.connectorId) throw loginExpired();
    const form = await readForm(ctx);
    if (form.approval === 'approve') {
      await complete(ctx, d, state.connectorId, state.identity);
      return;
    }
    const returnTo = await deps
      .provider()
      .interactionResult(
        ctx.req,
        ctx.res,
        { error: 'access_denied', error_description: 'the user declined the request' },
        { mergeWithLastSubmission: false },
      );
    continueTo(ctx, returnTo);
  });

  return router;
}
