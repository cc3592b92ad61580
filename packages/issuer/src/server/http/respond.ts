/** How an HTML page of ours goes out: the strict CSP of security.ts with the page's form targets. */
import type { Context } from 'koa';
import { contentSecurityPolicy } from './security.ts';

/** One of our pages as the whole answer: status, no caching. */
export function sendPage(ctx: Context, status: number, body: string, formTargets: string[] = []): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', contentSecurityPolicy(formTargets));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/** One of our pages in place of one oidc-provider renders (it chose the status and caching). */
export function renderPage(
  ctx: Pick<Context, 'set' | 'type' | 'body'>,
  body: string,
  formTargets: string[] = [],
): void {
  ctx.set('Content-Security-Policy', contentSecurityPolicy(formTargets));
  ctx.type = 'html';
  ctx.body = body;
}
