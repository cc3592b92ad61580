// /oauth2/sign_out: clears our cookies and ends the issuer session through its end_session_endpoint.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context.ts';
import { serializeCookie } from '../session/cookies.ts';
import { redirect } from '../http/respond.ts';
import { chooseRedirect } from './login.ts';

export async function handleSignOut(ctx: AppContext, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const params = new URLSearchParams(query);
  const rd = chooseRedirect(ctx, req, params);
  const cookie = req.headers.cookie;
  const host = ctx.forwarded.origin(req).host;
  const loaded = ctx.sessions.load(cookie);
  const clearAttrs = ctx.sessions.attributes(host, 0);
  const setCookie = [
    ...ctx.sessions.clear(host, cookie, loaded?.entry.session),
    ...ctx.csrf.present(cookie).map((n) => serializeCookie(n, '', clearAttrs)),
  ];
  // This replica refuses the old cookie from now on even if it is replayed.
  if (loaded !== undefined) loaded.entry.fate = { kind: 'revoked', until: loaded.entry.session.expiresAt };

  let target = rd ?? '/';
  if (loaded !== undefined) {
    try {
      await ctx.oidc.discover();
      const postLogout = rd === undefined ? ctx.cfg.post_logout_redirect_url : new URL(rd, ctx.cfg.redirect_url).href;
      const end = ctx.oidc.endSessionURL(loaded.entry.session.idToken, postLogout);
      if (end !== undefined) target = end.href;
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'issuer unreachable at sign-out; only local cookies cleared');
    }
    ctx.log.info({ user: loaded.entry.session.user }, 'sign-out');
  }
  redirect(res, target, setCookie);
}
