// /oauth2/auth: the check NGINX makes before every request. The common case (a cached, valid session and no
// refresh due) is answered synchronously from precomputed headers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { emailDomainAllowed, groupsAllowed, policyAllows, queryPolicy, type Identity } from '../authz.ts';
import { BearerVerifier } from '../bearer.ts';
import type { AppContext } from '../context.ts';
import { authResponseHeaders } from '../headers.ts';
import { Refresher } from '../refresh.ts';
import { apiRouteMatches, routeAllows } from '../route-rules.ts';
import { requestCookieHeader } from '../session/cookies.ts';
import type { LoadedSession, SessionEntry } from '../session/manager.ts';
import { sendEmpty, sendJSON } from '../http/respond.ts';

export class AuthHandler {
  readonly #ctx: AppContext;
  readonly #count: { '202': number; '401': number; '403': number };

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
    this.#count = ctx.metrics.hot.auth;
  }

  handle(req: IncomingMessage, res: ServerResponse, query: string): void | Promise<void> {
    const ctx = this.#ctx;
    const loaded = ctx.sessions.load(requestCookieHeader(req));
    if (loaded !== undefined) {
      const entry = loaded.entry;
      if (entry.fate === undefined && Date.now() < entry.refreshAt)
        return this.#answer(req, res, entry, query, undefined);
      return this.#withRefresh(req, res, loaded, query);
    }
    if (ctx.bearer !== undefined) {
      const token = BearerVerifier.extract(req.headers.authorization);
      if (token !== undefined) return this.#bearer(req, res, token, query);
    }
    if (this.#allowedRoute(req)) return this.#accept(res, ['Content-Length', '0'], undefined);
    return this.#unauthorized(req, res, undefined);
  }

  async #withRefresh(req: IncomingMessage, res: ServerResponse, loaded: LoadedSession, query: string): Promise<void> {
    const ctx = this.#ctx;
    const cookie = req.headers.cookie;
    const host = ctx.forwarded.origin(req).host;
    const settled = Refresher.settled(loaded.entry);
    if (settled?.kind === 'revoked')
      return this.#unauthorized(req, res, ctx.sessions.clear(host, cookie, loaded.entry.session));
    if (settled?.kind === 'refreshed') return this.#refreshed(req, res, settled.entry, query, settled.written);
    if (Date.now() < loaded.entry.refreshAt) return this.#answer(req, res, loaded.entry, query, undefined);
    const outcome = await ctx.refresher.refresh(loaded, host, cookie);
    if (outcome.kind === 'revoked')
      return this.#unauthorized(req, res, ctx.sessions.clear(host, cookie, loaded.entry.session));
    if (outcome.kind === 'refreshed') return this.#refreshed(req, res, outcome.entry, query, outcome.written);
    return this.#answer(req, res, outcome.entry, query, undefined);
  }

  /**
   * The answer with a refreshed session. nginx passes only the first Set-Cookie of this subrequest, so the new
   * session travels here only when one header says everything. When it takes more (chunks, or deletions of the old
   * cookie's chunks), a page navigation gets the 401 that sends the browser to /oauth2/start, which sets them all
   * and returns at once; any other request gets the new session's single cookie if it has one (stale chunks stay
   * until a later navigation: the whole cookie wins when both are sent), else no cookie (the old one keeps leading
   * to the new session on this replica).
   */
  #refreshed(
    req: IncomingMessage,
    res: ServerResponse,
    entry: SessionEntry,
    query: string,
    written: readonly string[],
  ): void {
    const ctx = this.#ctx;
    if (written.length === 1) {
      const all = ctx.sessions.cookiesFor(entry, ctx.forwarded.origin(req).host, requestCookieHeader(req)).setCookie;
      if (all.length === 1 || !entry.authorized || !this.#isNavigation(req))
        return this.#answer(req, res, entry, query, written);
      return this.#unauthorized(req, res, undefined);
    }
    if (entry.authorized && this.#isNavigation(req)) return this.#unauthorized(req, res, undefined);
    this.#answer(req, res, entry, query, undefined);
  }

  /** A top-level page load (GET, Sec-Fetch-Mode: navigate or an HTML Accept), judged from trusted headers only. */
  #isNavigation(req: IncomingMessage): boolean {
    const origin = this.#ctx.forwarded.origin(req);
    if (!origin.trusted || origin.method !== 'GET' || this.#isAPI(req)) return false;
    const mode = req.headers['sec-fetch-mode'];
    if (mode !== undefined) return mode === 'navigate';
    return (req.headers.accept ?? '').includes('text/html');
  }

  #answer(
    req: IncomingMessage,
    res: ServerResponse,
    entry: SessionEntry,
    query: string,
    setCookie: readonly string[] | undefined,
  ): void {
    if (!entry.authorized) {
      const ctx = this.#ctx;
      if (this.#allowedRoute(req)) return this.#accept(res, ['Content-Length', '0'], undefined);
      return this.#unauthorized(
        req,
        res,
        ctx.sessions.clear(ctx.forwarded.origin(req).host, req.headers.cookie, entry.session),
      );
    }
    if (query !== '') {
      const policy = queryPolicy(query);
      if (policy !== undefined && !policyAllows(entry.identity, policy)) return this.#forbidden(res);
    }
    this.#accept(res, entry.headers, setCookie);
  }

  async #bearer(req: IncomingMessage, res: ServerResponse, token: string, query: string): Promise<void> {
    const ctx = this.#ctx;
    const verified = await ctx.bearer?.verify(token);
    if (verified === undefined) return this.#unauthorized(req, res, undefined);
    const id: Identity = verified.identity;
    if (!emailDomainAllowed(id.email, ctx.cfg.email_domains) || !groupsAllowed(id.groups, ctx.cfg.allowed_groups)) {
      return this.#forbidden(res);
    }
    const policy = queryPolicy(query);
    if (policy !== undefined && !policyAllows(id, policy)) return this.#forbidden(res);
    this.#accept(
      res,
      authResponseHeaders(id, undefined, { setXAuthRequest: ctx.cfg.set_xauthrequest, passAccessToken: false }),
      undefined,
    );
  }

  #allowedRoute(req: IncomingMessage): boolean {
    const ctx = this.#ctx;
    if (ctx.skipAuthRoutes.length === 0 && !ctx.cfg.skip_auth_preflight) return false;
    const origin = ctx.forwarded.origin(req);
    // Without trusted forwarded headers there is no original request to judge: nothing is skipped.
    if (!origin.trusted) return false;
    if (ctx.cfg.skip_auth_preflight && origin.method === 'OPTIONS') return true;
    return routeAllows(ctx.skipAuthRoutes, origin.method, origin.uri);
  }

  #accept(res: ServerResponse, headers: readonly string[], setCookie: readonly string[] | undefined): void {
    if (setCookie === undefined) res.writeHead(202, headers as string[]);
    else {
      const list = [...headers];
      for (const c of setCookie) list.push('Set-Cookie', c);
      res.writeHead(202, list);
    }
    res.end();
    this.#count['202']++;
  }

  #forbidden(res: ServerResponse): void {
    sendEmpty(res, 403);
    this.#count['403']++;
  }

  #unauthorized(req: IncomingMessage, res: ServerResponse, setCookie: readonly string[] | undefined): void {
    this.#count['401']++;
    if (this.#isAPI(req))
      return sendJSON(res, 401, { error: 'unauthorized', error_description: 'a valid session is required' }, setCookie);
    sendEmpty(res, 401, setCookie);
  }

  #isAPI(req: IncomingMessage): boolean {
    const ctx = this.#ctx;
    if (ctx.cfg.force_json_errors) return true;
    const accept = req.headers.accept;
    if (accept !== undefined && accept.split(',').some((a) => a.trim() === 'application/json')) return true;
    if (ctx.apiRoutes.length === 0) return false;
    // The original request's URI comes only from a trusted proxy; our own /oauth2/auth URL says nothing.
    const origin = ctx.forwarded.origin(req);
    return origin.trusted && apiRouteMatches(ctx.apiRoutes, origin.uri);
  }
}
