/**
 * The koa application in front of oidc-provider: our routes (login UI, callback, keys, health,
 * stylesheet) under the issuer path, then oidc-provider for everything else under that path.
 *
 * oidc-provider runs as its own koa app, called with the issuer path stripped from `req.url`
 * and the full path kept in `req.originalUrl` (from which it derives its mount path). Which
 * Provider instance answers is read per request from a `ProviderSlot`, so a key rotation swaps in
 * a rebuilt provider atomically (see keys/key-manager.ts).
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa, { type Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Store } from '@gatehouse/storage';
import type { IssuerConfig } from '../config/types.ts';
import { errorSummary, PageError } from './http/errors.ts';
import { readFormText } from './http/form.ts';
import { interactionRouter, type InteractionDeps } from './login/routes.ts';
import { sendPage } from './http/respond.ts';
import { requestScope } from './store/request-cache.ts';
import { isStorageUnavailable } from './store/adapter.ts';
import type { KeyManager } from './keys/key-manager.ts';
import { INTERNAL_LISTENERS } from './oidc/listeners.ts';
import { clientAddress, isTrustedProxy, providerContentSecurityPolicy } from './http/security.ts';
import { errorPage } from './http/views/pages.ts';
import { stylesheet } from './http/views/theme.ts';

export class ProviderSlot {
  #provider: Provider;
  #handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  constructor(provider: Provider) {
    this.#provider = provider;
    this.#handler = provider.callback() as never;
  }
  get provider(): Provider {
    return this.#provider;
  }
  get handler(): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return this.#handler;
  }
  swap(provider: Provider): void {
    const handler = provider.callback() as never;
    // Event listeners added from outside (tests, metrics) follow the provider.
    const from = this.#provider as unknown as EventEmitter;
    const to = provider as unknown as EventEmitter;
    for (const event of from.eventNames()) {
      for (const listener of from.listeners(event)) {
        if (!INTERNAL_LISTENERS.has(listener as never)) to.on(event, listener as (...args: unknown[]) => void);
      }
    }
    this.#provider = provider;
    this.#handler = handler;
  }
}

export interface AppDeps extends Omit<InteractionDeps, 'provider'> {
  slot: ProviderSlot;
  keys: KeyManager;
  store: Store;
  config: IssuerConfig;
}

const FORWARDED = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'forwarded'];

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  const { config, basePath } = deps;
  const trusted = config.web.trustedProxies;
  // Only then does koa (and oidc-provider's app) read X-Forwarded-*; from anyone else they are dropped.
  app.proxy = trusted.length > 0;
  // Only the entry our nearest proxy appended; `ctx.ip` is then set from clientAddress, which
  // also skips further trusted proxies (the left-most entries are the client's own words).
  app.maxIpsCount = 1;
  // koa prints errors to stderr unless someone listens: they go to the logger instead.
  app.on('error', (err: unknown, ctx?: Context) => {
    deps.logger.error({ err: errorSummary(err), method: ctx?.method, path: ctx?.path }, 'request failed');
  });
  const issuerURL = new URL(config.issuer);
  const issuerProto = issuerURL.protocol.replace(/:$/, '');
  const css = stylesheet(config.frontend);
  const inBase = (path: string) => basePath === '' || path === basePath || path.startsWith(`${basePath}/`);

  // Hardening and the last-resort error page: never a stack trace, never a 500 for bad input.
  app.use(async (ctx, next) => {
    if (!isTrustedProxy(ctx.req.socket.remoteAddress, trusted)) {
      for (const h of FORWARDED) delete ctx.req.headers[h];
    }
    ctx.request.ip = clientAddress(ctx.req, trusted);
    for (const [k, v] of Object.entries(config.web.headers)) ctx.set(k, v);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    try {
      await next();
    } catch (err) {
      if (err instanceof PageError) {
        if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
        sendPage(
          ctx,
          err.status,
          errorPage(deps.pages, {
            title: err.title,
            message: err.userMessage,
            ...(err.retryHref ? { retryHref: err.retryHref } : {}),
          }),
        );
        return;
      }
      if (isStorageUnavailable(err)) {
        // The store did not answer (database restart, API-server outage): retryable, not a bug.
        deps.logger.warn(
          { err: errorSummary(err), method: ctx.method, path: ctx.path },
          'storage unavailable: answered 503',
        );
        ctx.set('Retry-After', '5');
        sendPage(
          ctx,
          503,
          errorPage(deps.pages, {
            title: 'Temporarily unavailable',
            message: 'The service cannot complete the request right now. Please try again in a moment.',
          }),
        );
        return;
      }
      const status = (err as { status?: number }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        sendPage(
          ctx,
          status,
          errorPage(deps.pages, { title: 'Invalid request', message: 'The request could not be understood.' }),
        );
        return;
      }
      deps.logger.error({ err: errorSummary(err), method: ctx.method, path: ctx.path }, 'unexpected error');
      sendPage(
        ctx,
        500,
        errorPage(deps.pages, {
          title: 'Something went wrong',
          message: 'The server could not complete the request. Please try again.',
        }),
      );
    }
  });

  // One read-cache scope per request for our routes too (request-cache.ts).
  app.use(requestScope());

  const router = interactionRouter({ ...deps, provider: () => deps.slot.provider });
  router.get('/static/style.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  });
  router.get('/healthz', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'ok';
  });
  router.get('/readyz', async (ctx) => {
    try {
      await deps.store.ping();
      ctx.type = 'text/plain';
      ctx.body = 'ok';
    } catch {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'storage unavailable';
    }
  });
  // JWKS with retired keys too (oidc-provider only knows the keys it signs with).
  router.get('/keys', (ctx) => {
    ctx.type = 'application/jwk-set+json';
    ctx.set('Cache-Control', 'max-age=600, must-revalidate');
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.body = deps.keys.publicJWKS();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());

  // Everything else under the issuer path is oidc-provider's.
  app.use(async (ctx: Context) => {
    // RFC 8414 metadata for an issuer with a path lives at the root with the path appended.
    const rfc8414 = `/.well-known/oauth-authorization-server${basePath}`;
    if (basePath !== '' && ctx.path === rfc8414 && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      ctx.req.url = `${basePath}/.well-known/openid-configuration`;
    } else if (!inBase(ctx.path)) {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'not found';
      return;
    }
    const req = ctx.req as IncomingMessage & { originalUrl?: string };
    // OIDC Core 3.1.2.1: the authorization endpoint takes POST too. oidc-provider's own POST
    // support requires SameSite=None session cookies; the request is the same as a GET with the
    // form as its query, so it is handed over as that (body parameters only, as the spec says).
    // The Lax session cookie is not sent on a cross-site POST: harmless, every authorization
    // logs in through a connector anyway.
    if (ctx.method === 'POST' && ctx.path === `${basePath}/auth`) {
      const text = await readFormText(ctx);
      req.method = 'GET';
      req.url = `${basePath}/auth?${text}`;
      delete req.headers['content-type'];
      delete req.headers['content-length'];
    }
    ctx.set('Content-Security-Policy', providerContentSecurityPolicy());
    ctx.respond = false;
    // oidc-provider builds every endpoint URL (discovery, device verification_uri, redirects to
    // our pages) from the request's host and protocol: they are the configured issuer's, never
    // what the client or a proxy said (probes and in-cluster clients use service names).
    req.headers.host = issuerURL.host;
    req.headers['x-forwarded-proto'] = issuerProto;
    delete req.headers['x-forwarded-host'];
    delete req.headers['x-forwarded-port'];
    delete req.headers.forwarded;
    const full = req.url ?? '/';
    req.originalUrl = full;
    const rest = full.slice(basePath.length);
    req.url = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
    await deps.slot.handler(req, ctx.res);
  });
  return app;
}
