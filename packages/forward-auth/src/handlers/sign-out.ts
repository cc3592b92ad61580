// /oauth2/sign_out: clears our cookies, revokes the session's tokens at the issuer (RFC 7009) and ends the
// issuer session through its end_session_endpoint, which returns to the registered post-logout URL
// (`<proxy_prefix>/sign_out/done`) with the state that finds the validated rd again. Always a redirect: to the
// validated rd (or /) when anything at the issuer fails, never an error page, never an unvalidated target.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context.ts';
import { deletions, serializeCookie } from '../session/cookies.ts';
import type { Session } from '../session/payload.ts';
import { allowMethods, redirect } from '../http/respond.ts';
import { chooseRedirect } from './login.ts';
import { postLogoutRedirectURL } from '../signout-state.ts';

/** GET for links and oauth2-proxy compatibility, POST for forms; HEAD as GET. */
const SIGN_OUT_METHODS = ['GET', 'HEAD', 'POST'] as const;
/** Sign-out waits at most this long for the issuer's revocation answers. */
const REVOKE_WAIT_MS = 3_000;

export async function handleSignOut(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
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
      ...deletions(ctx.csrf.present(cookie), clearAttrs),
      ...(ctx.signOuts.present(cookie) ? [serializeCookie(ctx.signOuts.name, '', clearAttrs)] : []),
    ];
    if (loaded !== undefined) {
      const session = loaded.entry.session;
      // Refused from now on, every cookie of this login and its bearer tokens: on this replica by its revocation
      // list, on the others through Redis when configured (else at their next refresh, which the revoked refresh
      // token fails).
      ctx.sessions.revoke(loaded.entry);
      ctx.log.info({ user: session.user }, 'sign-out');
      await Promise.all([revokeTokens(ctx, session), settleShared(ctx, session)]);
      try {
        await ctx.oidc.discover();
        // The issuer accepts only the registered URL; rd rides along in a cookie bound to the state.
        const bound = ctx.signOuts.start(target, (maxAge) => ctx.sessions.attributes(host, maxAge));
        // No id_token_hint: the URL ends up in browser history and logs, and client_id with the registered
        // post_logout_redirect_uri is all the issuer needs (OpenID RP-Initiated Logout 1.0 §2).
        const end = ctx.oidc.endSessionURL(undefined, postLogoutRedirectURL(ctx.cfg), bound.state);
        if (end !== undefined) {
          target = end.href;
          setCookie = [...setCookie.filter((c) => !c.startsWith(`${ctx.signOuts.name}=`)), bound.setCookie];
        }
      } catch (err) {
        ctx.log.warn({ err: (err as Error).message }, 'issuer unreachable at sign-out; only local cookies cleared');
      }
    }
  } catch (err) {
    ctx.log.error({ err: (err as Error).message }, 'sign-out failed; redirecting without the issuer');
  }
  redirect(res, target, setCookie);
}

/**
 * `<proxy_prefix>/sign_out/done`: where the issuer returns after its logout. Goes on to the rd this browser's
 * sign-out cookie binds to the returned state, re-validated against the current whitelist; to / otherwise.
 */
export async function handleSignOutDone(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  if (!allowMethods(req, res, ['GET', 'HEAD'] as const)) return;
  const params = new URLSearchParams(query);
  const cookie = req.headers.cookie;
  const states = params.getAll('state');
  const rd = states.length === 1 ? ctx.signOuts.take(states[0] ?? null, cookie) : undefined;
  const host = ctx.forwarded.origin(req).host;
  const setCookie = ctx.signOuts.present(cookie)
    ? [serializeCookie(ctx.signOuts.name, '', ctx.sessions.attributes(host, 0))]
    : [];
  if (rd === undefined && states.length > 0)
    ctx.log.info('post-logout return without a matching sign-out cookie; going to /');
  redirect(res, ctx.redirects.sanitize(rd), setCookie);
}

/** Waits (briefly) until the other replicas can see the revocation; an unreachable Redis gets it on reconnect. */
async function settleShared(ctx: AppContext, session: Session): Promise<void> {
  if (ctx.sharedRevocations === undefined) return;
  if (!(await ctx.sharedRevocations.settle(REVOKE_WAIT_MS))) {
    ctx.log.warn(
      { user: session.user },
      'sign-out not yet written to redis: other replicas refuse the session once it is back',
    );
  }
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
    if (r.status === 'rejected')
      ctx.log.warn(
        { user: session.user, token: hint, err: (r.reason as Error).message },
        'token revocation at sign-out failed',
      );
    else if (!r.value) ctx.log.info({ token: hint }, 'issuer has no revocation_endpoint; token not revoked');
  });
}
