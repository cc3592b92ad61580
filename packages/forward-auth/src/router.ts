// The request listener: a plain node:http router over the handlers (no framework on the hot path).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import { BearerVerifier } from './bearer.ts';
import { validateForwardAuthConfig } from './config/load.ts';
import type { ForwardAuthConfig } from './config/schema.ts';
import type { AppContext } from './context.ts';
import { CsrfFlows } from './csrf.ts';
import { ForwardedHeaders } from './forwarded.ts';
import { AuthHandler } from './handlers/auth.ts';
import { handleMetrics, handleReady, handleUserInfo } from './handlers/info.ts';
import { handleCallback, handleSignIn, handleStart } from './handlers/login.ts';
import { handleSignOut, handleSignOutDone } from './handlers/sign-out.ts';
import { ForwardAuthMetrics } from './metrics.ts';
import { OidcClient, type FetchLike } from './oidc/client.ts';
import { RedirectValidator } from './redirect.ts';
import { Refresher } from './refresh.ts';
import { parseRouteRule } from './route-rules.ts';
import { sendErrorPage, sendStylesheet, sendText } from './http/respond.ts';
import { RedisRevocations } from './session/redis-revocations.ts';
import { RevocationList } from './session/revocations.ts';
import { SessionManager } from './session/manager.ts';
import { SignOutStates } from './signout-state.ts';

export interface HandlerOptions {
  readonly logger?: Logger;
  /** fetch used for every issuer call (discovery, token, JWKS). */
  readonly fetch?: FetchLike;
}

export interface ForwardAuthHandler extends RequestListener {
  readonly context: AppContext;
  /** Closes what the handler holds open (the Redis connections of session_store_type = "redis"). */
  close(): Promise<void>;
}

type Route = (req: IncomingMessage, res: ServerResponse, query: string) => void | Promise<void>;

export function buildContext(
  config: ForwardAuthConfig | Readonly<Record<string, unknown>>,
  options: HandlerOptions = {},
): AppContext {
  const { config: cfg, warnings } = validateForwardAuthConfig(config);
  const log = options.logger ?? pino({ level: cfg.log_level, base: { component: 'forward-auth' } });
  for (const w of warnings) log.warn(w);
  const metrics = new ForwardAuthMetrics();
  const oidc = new OidcClient(cfg, options.fetch);
  const revocations = new RevocationList(cfg.revocation_max_entries);
  revocations.onFold = (at) =>
    log.warn({ at }, 'revocation list full (revocation_max_entries): every login and token from before now is revoked');
  const sessions = new SessionManager(cfg, revocations);
  sessions.onCache = (r) => void metrics.hot.cache[r]++;
  const sharedRevocations =
    cfg.session_store_type === 'redis' && cfg.redis_connection_url !== undefined
      ? new RedisRevocations(revocations, cfg.redis_connection_url, `${cfg.client_id}:${cfg.cookie_name}`, log)
      : undefined;
  metrics.watchRevocations(revocations, sharedRevocations);
  return {
    cfg,
    log,
    sessions,
    revocations,
    sharedRevocations,
    oidc,
    metrics,
    refresher: new Refresher(cfg, oidc, sessions, log, metrics),
    bearer: cfg.skip_jwt_bearer_tokens ? new BearerVerifier(cfg, oidc, revocations, options.fetch) : undefined,
    csrf: new CsrfFlows(cfg),
    signOuts: new SignOutStates(cfg),
    redirects: new RedirectValidator(cfg.whitelist_domains),
    forwarded: new ForwardedHeaders(cfg.reverse_proxy, cfg.trusted_proxy_ips),
    skipAuthRoutes: cfg.skip_auth_routes.map(parseRouteRule),
    apiRoutes: cfg.api_routes.map((r) => new RegExp(r)),
  };
}

/** A node:http request listener serving every forward-auth endpoint. */
export function createForwardAuthHandler(
  config: ForwardAuthConfig | Readonly<Record<string, unknown>>,
  options: HandlerOptions = {},
): ForwardAuthHandler {
  const ctx = buildContext(config, options);
  const p = ctx.cfg.proxy_prefix;
  const auth = new AuthHandler(ctx);
  const counted =
    (endpoint: string, route: Route): Route =>
    async (req, res, query) => {
      await route(req, res, query);
      ctx.metrics.requests.inc({ endpoint, code: String(res.statusCode) });
    };
  const routes = new Map<string, Route>([
    [`${p}/auth`, (req, res, q) => auth.handle(req, res, q)],
    [`${p}/start`, counted('start', (req, res, q) => handleStart(ctx, req, res, q))],
    [`${p}/sign_in`, counted('sign_in', (req, res, q) => handleSignIn(ctx, req, res, q))],
    [`${p}/callback`, counted('callback', (req, res, q) => handleCallback(ctx, req, res, q))],
    [`${p}/sign_out`, counted('sign_out', (req, res, q) => handleSignOut(ctx, req, res, q))],
    [`${p}/sign_out/done`, counted('sign_out_done', (req, res, q) => handleSignOutDone(ctx, req, res, q))],
    [`${p}/userinfo`, counted('userinfo', (req, res) => handleUserInfo(ctx, req, res))],
    [ctx.cfg.ping_path, (_req, res) => sendText(res, 200, 'OK')],
    [ctx.cfg.ready_path, (req, res) => handleReady(ctx, req, res)],
    [`${p}/static/gatehouse.css`, (_req, res) => sendStylesheet(res)],
    ['/robots.txt', (_req, res) => sendText(res, 200, 'User-agent: *\nDisallow: /\n')],
  ]);
  // With metrics_address, /metrics is served only on that listener (createMetricsHandler).
  if (ctx.cfg.metrics_address === undefined) routes.set('/metrics', (req, res) => handleMetrics(ctx, req, res));

  const fail = (res: ServerResponse, err: unknown) => {
    ctx.log.error({ err: (err as Error)?.message }, 'request failed');
    if (!res.headersSent)
      sendErrorPage(
        res,
        502,
        'Authentication service error',
        'The request could not be completed. Try again in a moment.',
      );
    else res.destroy();
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routes.get(path);
    if (route === undefined) return sendText(res, 404, 'Not Found');
    try {
      const r = route(req, res, q === -1 ? '' : url.slice(q + 1));
      if (r !== undefined) r.catch((err: unknown) => fail(res, err));
    } catch (err) {
      fail(res, err);
    }
  };
  return Object.assign(listener, { context: ctx, close: async () => ctx.sharedRevocations?.close() });
}

/** The request listener of the metrics_address listener: /metrics and nothing else. */
export function createMetricsHandler(ctx: AppContext): RequestListener {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== '/metrics') return sendText(res, 404, 'Not Found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method Not Allowed');
    handleMetrics(ctx, req, res).catch((err: unknown) => {
      ctx.log.error({ err: (err as Error)?.message }, 'metrics failed');
      if (!res.headersSent) sendText(res, 503, 'metrics unavailable');
      else res.destroy();
    });
  };
}
