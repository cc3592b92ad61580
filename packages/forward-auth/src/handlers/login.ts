// /oauth2/start, /oauth2/sign_in and /oauth2/callback: the authorization-code flow with state, nonce and PKCE.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { claimOptions, identityFromClaims } from '../claims.ts';
import type { AppContext } from '../context.ts';
import { IssuerError, IssuerErrorCode } from '../oidc/client.ts';
import { Refresher } from '../refresh.ts';
import { serializeCookie } from '../session/cookies.ts';
import { allowMethods, escapeHTML, redirect, sendErrorPage, sendHTML } from '../http/respond.ts';

const MAX_PARAM = 4096;

/** The app redirect of a login or logout: `rd`, else X-Auth-Request-Redirect, each only when valid. */
export function chooseRedirect(ctx: AppContext, req: IncomingMessage, params: URLSearchParams): string | undefined {
  for (const candidate of [params.get('rd'), req.headers['x-auth-request-redirect']]) {
    if (typeof candidate === 'string' && ctx.redirects.isValid(candidate)) return candidate;
  }
  return undefined;
}

const READ_ONLY = ['GET', 'HEAD'] as const;

export async function handleStart(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  if (!allowMethods(req, res, READ_ONLY)) return;
  const params = new URLSearchParams(query);
  const rd = chooseRedirect(ctx, req, params) ?? '/';
  const host = ctx.forwarded.origin(req).host;
  // A session refreshed during an auth check whose chunked cookie nginx could not pass on: deliver it here.
  const loaded = ctx.sessions.load(req.headers.cookie);
  const settled = loaded === undefined ? undefined : Refresher.settled(loaded.entry);
  if (settled?.kind === 'refreshed' && settled.entry.authorized) {
    return redirect(res, rd, ctx.sessions.cookiesFor(settled.entry, host, req.headers.cookie).setCookie);
  }
  try {
    await ctx.oidc.discover();
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'issuer discovery failed');
    return sendErrorPage(
      res,
      502,
      'Sign-in is unavailable',
      'The identity provider cannot be reached. Try again in a moment.',
    );
  }
  const { flow, setCookie } = ctx.csrf.start(rd, req.headers.cookie, (maxAge) => ctx.sessions.attributes(host, maxAge));
  const url = await ctx.oidc.authorizationURL(flow);
  redirect(res, url.href, setCookie);
}

export async function handleSignIn(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  if (!allowMethods(req, res, READ_ONLY)) return;
  if (ctx.cfg.skip_provider_button) return handleStart(ctx, req, res, query);
  const rd = chooseRedirect(ctx, req, new URLSearchParams(query)) ?? '/';
  const start = `${ctx.cfg.proxy_prefix}/start?rd=${encodeURIComponent(rd)}`;
  sendHTML(
    res,
    200,
    'Sign in',
    `<h1>Sign in</h1><p><a href="${escapeHTML(start)}">Sign in with the identity provider</a></p>`,
  );
}

export async function handleCallback(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  const retryURL = `${ctx.cfg.proxy_prefix}/start`;
  if (!allowMethods(req, res, READ_ONLY)) return;
  const params = new URLSearchParams(query);
  for (const name of ['state', 'code', 'error', 'iss']) {
    if (params.getAll(name).length > 1)
      return sendErrorPage(res, 400, 'Invalid sign-in response', `The parameter "${name}" is repeated.`, { retryURL });
  }
  const state = params.get('state') ?? '';
  const host = ctx.forwarded.origin(req).host;
  const cookie = req.headers.cookie;
  const clearFlow = (name: string | undefined) =>
    name === undefined ? [] : [serializeCookie(name, '', ctx.sessions.attributes(host, 0))];

  const upstreamError = params.get('error');
  if (upstreamError !== null) {
    const taken = ctx.csrf.take(state, cookie);
    const detail = /^[\w.-]{1,64}$/.test(upstreamError) ? upstreamError : 'unknown error';
    return sendErrorPage(res, 403, 'Login failed', `The identity provider returned an error: ${detail}.`, {
      retryURL,
      setCookie: clearFlow(taken.cookieName),
    });
  }
  const code = params.get('code');
  if (code === null || code === '' || state === '' || code.length > MAX_PARAM || state.length > MAX_PARAM) {
    return sendErrorPage(res, 400, 'Invalid sign-in response', 'The callback needs both "code" and "state".', {
      retryURL,
    });
  }
  // The state is checked against this browser's CSRF cookie before the code is redeemed.
  const taken = ctx.csrf.take(state, cookie);
  if (!taken.ok) {
    ctx.log.info({ reason: taken.reason }, 'callback rejected: no valid CSRF cookie for this state');
    return sendErrorPage(
      res,
      403,
      'Login failed',
      'Unable to find a valid CSRF token for this sign-in. Start again from the application.',
      {
        retryURL,
        setCookie: clearFlow(taken.cookieName),
      },
    );
  }
  const flow = taken.flow;
  const cleared = clearFlow(taken.cookieName);

  let tokens;
  const started = performance.now();
  try {
    tokens = await ctx.oidc.redeem(params, flow);
  } catch (err) {
    const e = err instanceof IssuerError ? err : new IssuerError(IssuerErrorCode.Rejected, (err as Error).message);
    ctx.log.warn({ code: e.code, err: e.message }, 'code redemption failed');
    if (e.code === IssuerErrorCode.Unreachable) {
      return sendErrorPage(
        res,
        502,
        'Sign-in is unavailable',
        'The identity provider cannot be reached. Try again in a moment.',
        { retryURL, setCookie: cleared },
      );
    }
    return sendErrorPage(res, 403, 'Login failed', 'The sign-in could not be completed with the identity provider.', {
      retryURL,
      setCookie: cleared,
    });
  } finally {
    ctx.metrics.issuerLatency.observe({ operation: 'code' }, (performance.now() - started) / 1000);
  }
  const r = identityFromClaims(tokens.claims ?? {}, claimOptions(ctx.cfg));
  if (!r.ok)
    return sendErrorPage(res, 403, 'Access denied', `${r.reason[0]?.toUpperCase()}${r.reason.slice(1)}.`, {
      retryURL,
      setCookie: cleared,
    });
  const session = ctx.sessions.create(r.identity, tokens, ctx.sessions.domainFor(host));
  if (!ctx.sessions.entryFor(session).authorized) {
    ctx.log.info({ user: r.identity.user }, 'login denied by email_domains / allowed_groups');
    return sendErrorPage(res, 403, 'Access denied', 'Your account is not allowed to use this application.', {
      setCookie: cleared,
    });
  }
  const sealed = ctx.sessions.seal(session, host, cookie);
  const others = ctx.sessions.clearOtherCopies(sealed.entry.session.cookieDomain, host, cookie);
  ctx.log.info({ user: r.identity.user }, 'login');
  // Re-validated: the redirect was checked at /start, the whitelist may be stricter now. Deletions of other
  // copies go first: a browser applies Set-Cookie in order.
  redirect(res, ctx.redirects.sanitize(flow.redirect), [...others, ...sealed.setCookie, ...cleared]);
}
