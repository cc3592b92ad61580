/**
 * The outermost middleware of the provider: whatever escapes its own error handlers becomes our
 * error page (4xx kept, the store unavailable 503, anything else 500) and a structured log line, never koa's plain-text
 * page; and koa's `error` event goes to pino (koa prints it to stderr when nobody listens).
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type pino from 'pino';
import { listenInternally } from '../oidc/listeners.ts';
import { isStorageUnavailable } from '../store/adapter.ts';
import { errorSummary } from './errors.ts';
import { replaceAutoSubmit } from './provider-pages.ts';
import { renderPage } from './respond.ts';
import { errorPage, type PageContext } from './views/pages.ts';

export function catchEverything(provider: Provider, deps: { pages: PageContext; logger: pino.Logger }): void {
  provider.use(async (ctx, next) => {
    try {
      await next();
      if (typeof ctx.body === 'string') replaceAutoSubmit(ctx as KoaContextWithOIDC, deps.pages);
      // No route (or method) of the provider matched: our page rather than koa's plain text.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404 || ctx.status === 405) {
          const status = ctx.status;
          renderPage(ctx, errorPage(deps.pages, { title: 'Not found', message: 'There is nothing at this address.' }));
          ctx.status = status;
        }
      }
    } catch (err) {
      if (isStorageUnavailable(err)) {
        // The store did not answer (database restart, API-server outage): retryable, not a bug.
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        renderPage(
          ctx,
          errorPage(deps.pages, {
            title: 'Temporarily unavailable',
            message: 'The service cannot complete the request right now. Please try again in a moment.',
          }),
        );
        return;
      }
      const status = (err as { status?: unknown }).status;
      const clientError = typeof status === 'number' && status >= 400 && status < 500;
      if (!clientError)
        deps.logger.error(
          { err: errorSummary(err), method: ctx.method, path: ctx.path },
          'oidc-provider request failed',
        );
      ctx.status = clientError ? status : 500;
      renderPage(
        ctx,
        clientError
          ? errorPage(deps.pages, { title: 'Invalid request', message: 'The request could not be understood.' })
          : errorPage(deps.pages, {
              title: 'Something went wrong',
              message: 'The server could not complete the request. Please try again.',
            }),
      );
    }
  });
  listenInternally(provider, 'error', (err: unknown, ctx?: { method?: string; path?: string }) => {
    deps.logger.error({ err: errorSummary(err), method: ctx?.method, path: ctx?.path }, 'oidc-provider error');
  });
}
