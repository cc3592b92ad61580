// /oauth2/sign_out: clears our cookies, revokes the session's tokens at the issuer (RFC 7009) and ends the
// issuer session through its end_session_endpoint. Always a redirect: to the validated rd (or /) when anything
// at the issuer fails, never an error page, never an unvalidated target.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context.ts';
import { serializeCookie } from '../session/cookies.ts';
import type { Session } from '../session/payload.ts';
import { allowMethods, redirect } from '../http/respond.ts';
import { chooseRedirect } from './login.ts';

/** GET for links and oauth2-proxy compatibility, POST for forms; HEAD as GET. */
const SIGN_OUT_METHODS = ['GET', 'HEAD', 'POST'] as const;
/** Sign-out waits at most this long for the issuer's revocation answers. */
const REVOKE_WAIT_MS = 3_000;

export async function handleSignOut(ctx: AppContext, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  if (!allowMethods(req, res, SIGN_OUT_METHODS)) return;
  let target = '/';
  let setCookie: string[] = [];
  try {
    const rd = chooseRedirect(ctx, req, new URLSearchParams(query));
    target = rd ?? '/';
    const cookie = req.headers.cookie;
    const host = ctx.forwarded.origin(req).host;
    const loaded = ctx.sessions.load(cookie);
    const clearAttrs = ctx.sessions.attributes(host, 0);
    setCookie = [
      ...ctx.sessions.clear(host, cookie, loaded?.entry.session),
      ...ctx.csrf.present(cookie).map((n) => serializeCookie(n, '', clearAttrs)),
    ];
    if (loaded !== undefined) {
      const session = loaded.entry.session;
      // This replica refuses the old cookie from now on even if it is replayed; other replicas find out at their
      // next refresh, which the revoked refresh token fails (invalid_grant).
      loaded.entry.fate = { kind: 'revoked', until: session.expiresAt };
      ctx.log.info({ user: session.user }, 'sign-out');
      await revokeTokens(ctx, session);
      try {
        await ctx.oidc.discover();
        const postLogout = rd === undefined ? ctx.cfg.post_logout_redirect_url : new URL(rd, ctx.cfg.redirect_url).href;
        const end = ctx.oidc.endSessionURL(session.idToken, postLogout);
        if (end !== undefined) target = end.href;
      } catch (err) {
        ctx.log.warn({ err: (err as Error).message }, 'issuer unreachable at sign-out; only local cookies cleared');
      }
    }
  } catch (err) {
    ctx.log.error({ err: (err as Error).message }, 'sign-out failed; redirecting without the issuer');
  }
  redirect(res, target, setCookie);
}

/** Revokes the refresh and access tokens the session holds; failures are logged, never thrown. */
async function revokeTokens(ctx: AppContext, session: Session): Promise<void> {
  const tokens: Array<[string, 'refresh_token' | 'access_token']> = [];
  if (session.refreshToken !== undefined) tokens.push([session.refreshToken, 'refresh_token']);
  if (session.accessToken !== undefined) tokens.push([session.accessToken, 'access_token']);
  if (tokens.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), REVOKE_WAIT_MS);
  });
  const all = Promise.allSettled(tokens.map(([token, hint]) => ctx.oidc.revoke(token, hint)));
  const outcome = await Promise.race([all, timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    ctx.log.warn({ user: session.user }, 'token revocation at sign-out timed out; the session is ended locally only');
    return;
  }
  outcome.forEach((r, i) => {
    const hint = tokens[i]?.[1];
    if (r.status === 'rejected') ctx.log.warn({ user: session.user, token: hint, err: (r.reason as Error).message }, 'token revocation at sign-out failed');
    else if (!r.value) ctx.log.info({ token: hint }, 'issuer has no revocation_endpoint; token not revoked');
  });
}
