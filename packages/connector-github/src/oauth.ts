import { ConnectorError, oauthErrorCode } from '@gatehouse/connector-kit';
import type { ConnectorErrorCode, ConnectorLogger } from '@gatehouse/connector-kit';
import { z } from '@gatehouse/connector-kit';
import { parseJSON } from './api.ts';
import { apiError } from './http.ts';
import type { GitHubHttp, HttpRequest } from './http.ts';

export interface AuthorizeParams {
  clientID: string;
  redirectURI: string;
  scopes: string[];
  state: string;
  codeChallenge: string;
}

export function authorizeURL(oauthBase: string, p: AuthorizeParams): string {
  const url = new URL('/login/oauth/authorize', `${oauthBase}/`);
  url.search = new URLSearchParams({
    client_id: p.clientID,
    redirect_uri: p.redirectURI,
    scope: p.scopes.join(' '),
    state: p.state,
    code_challenge: p.codeChallenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.href;
}

/** What a successful exchange gives. OAuth apps' tokens do not expire; GitHub Apps' may. */
export interface GitHubTokens {
  accessToken: string;
  /** Granted scopes (GitHub may grant fewer than asked). */
  scopes: string[];
  refreshToken?: string;
  /** Epoch ms. */
  expiresAt?: number;
}

const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  scope: z.string().optional(),
  token_type: z.string().optional(),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().positive().optional(),
});

const errorResponse = z.looseObject({ error: z.string(), error_description: z.string().optional() });

export interface ExchangeParams {
  clientID: string;
  clientSecret: string;
  /** `authorization_code` fields, or `refresh_token` for GitHub App expiring tokens. */
  grant: { code: string; redirectURI: string; codeVerifier: string } | { refreshToken: string };
}

/**
 * POST `/login/oauth/access_token` with `Accept: application/json`. GitHub answers errors with
 * HTTP 200 and an `error` field; each is mapped to a code the issuer can render.
 */
export async function exchangeToken(
  http: GitHubHttp,
  oauthBase: string,
  p: ExchangeParams,
  logger: ConnectorLogger,
): Promise<GitHubTokens> {
  const isRefresh = 'refreshToken' in p.grant;
  const form = new URLSearchParams({ client_id: p.clientID, client_secret: p.clientSecret });
  if ('refreshToken' in p.grant) {
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', p.grant.refreshToken);
  } else {
    form.set('code', p.grant.code);
    form.set('redirect_uri', p.grant.redirectURI);
    form.set('code_verifier', p.grant.codeVerifier);
  }
  const req: HttpRequest = {
    method: 'POST',
    url: new URL('/login/oauth/access_token', `${oauthBase}/`).href,
    what: 'POST /login/oauth/access_token',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  };
  const started = Date.now();
  const res = await http.send(req);
  if (res.status !== 200) throw apiError(req, res, isRefresh ? 'refresh_failed' : 'upstream_error', logger);
  const body = parseJSON(req.what, res.text);
  const failed = errorResponse.safeParse(body);
  if (failed.success) throw tokenError(failed.data.error, failed.data.error_description, isRefresh, logger);
  const ok = tokenResponse.safeParse(body);
  if (!ok.success) {
    throw new ConnectorError('upstream_error', `${req.what}: no access_token in the response`, {
      userMessage: 'GitHub sent an answer that could not be understood.',
    });
  }
  const t = ok.data;
  return {
    accessToken: t.access_token,
    scopes: (t.scope ?? '').split(/[\s,]+/).filter((s) => s !== ''),
    ...(t.refresh_token !== undefined ? { refreshToken: t.refresh_token } : {}),
    ...(t.expires_in !== undefined ? { expiresAt: started + t.expires_in * 1000 } : {}),
  };
}

function tokenError(
  error: string,
  description: string | undefined,
  isRefresh: boolean,
  logger: ConnectorLogger,
): ConnectorError {
  const safeError = oauthErrorCode(error);
  const detail = `GitHub token endpoint: ${safeError}${description ? ` (${description.slice(0, 200)})` : ''}`;
  logger.warn({ error: safeError }, 'github token exchange refused');
  let code: ConnectorErrorCode;
  let userMessage: string;
  if (isRefresh) {
    code = 'refresh_failed';
    userMessage = 'Your GitHub sign-in has expired. Please sign in again.';
  } else if (safeError === 'bad_verification_code' || safeError === 'invalid_grant') {
    // The code was spent, expired, or does not match this login's PKCE verifier.
    code = 'invalid_state';
    userMessage = 'This sign-in link has expired or was already used. Please start again.';
  } else if (safeError === 'unverified_user_email') {
    code = 'access_denied';
    userMessage = 'Your GitHub account has no verified email address. Verify one on GitHub and try again.';
  } else {
    // incorrect_client_credentials, redirect_uri_mismatch...: the connector is misconfigured.
    code = 'upstream_error';
    userMessage = 'GitHub refused the sign-in because of a configuration problem. Please tell your administrator.';
  }
  return new ConnectorError(code, detail, { userMessage });
}
