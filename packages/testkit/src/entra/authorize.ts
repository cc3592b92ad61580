import { randomUUID } from 'node:crypto';
import type { HandlerOptions } from './context.ts';
import { randomToken, secretEquals } from './directory.ts';
import type { PendingLogin } from './directory.ts';
import { MULTI_TENANT } from './discovery.ts';
import { errorPage, formPost, loginForm } from './html.ts';
import { html } from './respond.ts';
import type { Res } from './respond.ts';
import type { FakeEntraFault } from './types.ts';

/** The browser's side: `/{tenant}/oauth2/v2.0/authorize`, the sign-in form it posts to `/{tenant}/login`, and the way back. */

export async function authorize(o: HandlerOptions, res: Res, tenant: string, query: URLSearchParams): Promise<void> {
  const { directory } = o;
  const clientId = query.get('client_id') ?? '';
  const client = directory.clients.get(clientId);
  if (!client) {
    return html(
      res,
      400,
      errorPage(700016, `Application with identifier '${clientId}' was not found in the directory.`),
    );
  }
  const redirectUri = query.get('redirect_uri') ?? '';
  if (!client.redirectUris.includes(redirectUri)) {
    return html(
      res,
      400,
      errorPage(
        50011,
        `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
      ),
    );
  }
  const state = query.get('state') ?? undefined;
  const responseMode = query.get('response_mode') === 'form_post' ? 'form_post' : 'query';
  const back = (params: Record<string, string>) =>
    redirectBack(res, redirectUri, responseMode, { ...params, ...(state ? { state } : {}) });
  if (query.get('response_type') !== 'code') {
    return back({
      error: 'unsupported_response_type',
      error_description: 'AADSTS70005: response_type is not enabled for the client.',
    });
  }
  const method = query.get('code_challenge_method');
  if (query.get('code_challenge') && method !== 'S256' && method !== 'plain') {
    return back({
      error: 'invalid_request',
      error_description: 'AADSTS501491: Invalid size of Code_Challenge parameter.',
    });
  }
  if (!query.get('scope')) {
    return back({
      error: 'invalid_request',
      error_description: "AADSTS900144: The request body must contain the following parameter: 'scope'.",
    });
  }
  const ctx = randomToken('ctx');
  const login: PendingLogin = {
    tenant,
    clientId,
    redirectUri,
    state,
    nonce: query.get('nonce') ?? undefined,
    scope: query.get('scope') ?? '',
    codeChallenge: query.get('code_challenge') ?? undefined,
    codeChallengeMethod: method ?? undefined,
    responseMode,
    expiresAt: Date.now() + 15 * 60_000,
  };
  directory.pending.set(ctx, login);
  html(res, 200, loginForm(`/${tenant}/login`, ctx, undefined, query.get('login_hint') ?? ''));
}

export function redirectBack(
  res: Res,
  redirectUri: string,
  mode: 'query' | 'form_post',
  params: Record<string, string>,
): void {
  if (mode === 'form_post') return html(res, 200, formPost(redirectUri, params));
  const target = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
  res.writeHead(302, { location: target.href, 'cache-control': 'no-store' });
  res.end();
}

export async function submitLogin(
  o: HandlerOptions,
  res: Res,
  tenant: string,
  form: URLSearchParams,
  fault: FakeEntraFault | undefined,
): Promise<void> {
  const { directory } = o;
  const ctx = form.get('ctx') ?? '';
  const login = directory.pending.get(ctx);
  if (!login || login.expiresAt < Date.now() || login.tenant !== tenant) {
    return html(
      res,
      400,
      errorPage(50058, 'The sign-in session has expired or is not valid. Start again from the application.'),
    );
  }
  const username = form.get('loginfmt') ?? '';
  const user = directory.findByLogin(username);
  if (!user || !secretEquals(user.password, form.get('passwd') ?? '')) {
    return html(
      res,
      200,
      loginForm(`/${tenant}/login`, ctx, 'Your account or password is incorrect. (AADSTS50126)', username),
    );
  }
  if (!MULTI_TENANT.has(tenant) && user.tid !== tenant) {
    return html(
      res,
      200,
      loginForm(
        `/${tenant}/login`,
        ctx,
        `AADSTS50020: User account '${username}' does not exist in tenant '${tenant}'.`,
        username,
      ),
    );
  }
  directory.pending.delete(ctx);
  const stateParam: Record<string, string> = login.state ? { state: login.state } : {};
  if (fault?.oauthError) {
    const e = fault.oauthError;
    return redirectBack(res, login.redirectUri, login.responseMode, {
      error: e.error,
      error_description: `AADSTS${e.code}: ${e.description}`,
      ...stateParam,
    });
  }
  const code = randomToken('code');
  directory.codes.set(code, { login, oid: user.oid, expiresAt: Date.now() + 10 * 60_000 });
  redirectBack(res, login.redirectUri, login.responseMode, { code, ...stateParam, session_state: randomUUID() });
}
