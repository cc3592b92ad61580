import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeGitHubClient, FakeGitHubState } from './model.ts';
import { escapeHTML, parseFields, readBody, sendHTML } from './respond.ts';

const ERROR_DOCS =
  'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';
const AUTHORIZE_DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors';
const CODE_LIFETIME_MS = 10 * 60 * 1000;

export interface OAuthSettings {
  state: FakeGitHubState;
  /** Login of the browser's signed-in GitHub user, if any. */
  signedInAs(): string | undefined;
  autoApprove(): boolean;
  /** GitHub App-style expiring user tokens; undefined: OAuth-app tokens that never expire. */
  tokenLifetimeSeconds: number | undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** GitHub's rule: same scheme, host and port as the registered callback; path equal or below it. */
export function redirectAllowed(registered: string, requested: string): boolean {
  let r: URL;
  let q: URL;
  try {
    r = new URL(registered);
    q = new URL(requested);
  } catch {
    return false;
  }
  if (r.protocol !== q.protocol || r.host !== q.host) return false;
  const base = r.pathname.endsWith('/') ? r.pathname : `${r.pathname}/`;
  return q.pathname === r.pathname || q.pathname.startsWith(base);
}

interface AuthorizeRequest {
  client: FakeGitHubClient;
  redirectURI: string;
  /** As sent (`undefined` when the app relied on its registered callback). */
  sentRedirectURI: string | undefined;
  scopes: string[];
  state: string | undefined;
  codeChallenge: string | undefined;
}

function redirectWith(res: ServerResponse, target: string, params: Record<string, string | undefined>): void {
  const url = new URL(target);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  res.writeHead(302, { location: url.href, 'content-length': 0 });
  res.end();
}

/** Validates authorize parameters; answers the error itself and returns undefined when they are bad. */
function parseAuthorize(s: OAuthSettings, p: URLSearchParams, res: ServerResponse): AuthorizeRequest | undefined {
  const clientId = p.get('client_id');
  const client = clientId ? s.state.clients.get(clientId) : undefined;
  if (!client) {
    sendHTML(
      res,
      404,
      'Not Found',
      '<h1>404</h1><p>This is not the web page you are looking for (unknown client_id).</p>',
    );
    return undefined;
  }
  const state = p.get('state') ?? undefined;
  const sent = p.get('redirect_uri') ?? undefined;
  if (sent !== undefined && !redirectAllowed(client.callbackURL, sent)) {
    // GitHub sends the browser to the registered callback with the error.
    redirectWith(res, client.callbackURL, {
      error: 'redirect_uri_mismatch',
      error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
      error_uri: AUTHORIZE_DOCS,
      state,
    });
    return undefined;
  }
  const method = p.get('code_challenge_method');
  const challenge = p.get('code_challenge') ?? undefined;
  if (
    (method !== null || challenge !== undefined) &&
    (method !== 'S256' || challenge === undefined || !/^[A-Za-z0-9_-]{43}$/.test(challenge))
  ) {
    sendHTML(
      res,
      400,
      'Bad request',
      '<h1>Bad request</h1><p>code_challenge_method must be S256 with a 43-character code_challenge.</p>',
    );
    return undefined;
  }
  const scopes = (p.get('scope') ?? '').split(/[\s,]+/).filter((x) => x !== '');
  return {
    client,
    redirectURI: sent ?? client.callbackURL,
    sentRedirectURI: sent,
    scopes: [...new Set(scopes)],
    state,
    codeChallenge: challenge,
  };
}

function approve(s: OAuthSettings, a: AuthorizeRequest, login: string, res: ServerResponse): void {
  const code = randomBytes(10).toString('hex');
  s.state.codes.set(code, {
    clientId: a.client.clientId,
    login,
    redirectURI: a.sentRedirectURI,
    scopes: a.scopes,
    codeChallenge: a.codeChallenge,
    expiresAt: Date.now() + CODE_LIFETIME_MS,
  });
  redirectWith(res, a.redirectURI, { code, state: a.state });
}

function authorizePage(s: OAuthSettings, a: AuthorizeRequest, p: URLSearchParams, res: ServerResponse): void {
  const hidden = [...p]
    .filter(([k]) => k !== 'login')
    .map(([k, v]) => `<input type="hidden" name="${escapeHTML(k)}" value="${escapeHTML(v)}">`)
    .join('');
  const signedIn = s.signedInAs();
  const suggested = p.get('login') ?? undefined;
  const who = signedIn
    ? `<p>Signed in as <strong>${escapeHTML(signedIn)}</strong></p><input type="hidden" name="login" value="${escapeHTML(signedIn)}">`
    : `<label>Account <select name="login">${[...s.state.users.values()]
        .map(
          (u) =>
            `<option value="${escapeHTML(u.login)}"${u.login === suggested ? ' selected' : ''}>${escapeHTML(u.login)}</option>`,
        )
        .join('')}</select></label>`;
  sendHTML(
    res,
    200,
    'Authorize application',
    `<h1>Authorize ${escapeHTML(a.client.clientId)}</h1>${who}<p>Scopes: ${escapeHTML(a.scopes.join(', ') || '(none)')}</p>` +
      `<form method="post" action="/login/oauth/authorize">${hidden}` +
      `<button type="submit" name="authorize" value="1" id="js-oauth-authorize-btn">Authorize</button>` +
      `<button type="submit" name="authorize" value="0">Cancel</button></form>`,
  );
}

/** `GET|POST /login/oauth/authorize`: the consent page, or straight back with a code. */
export async function handleAuthorize(
  s: OAuthSettings,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  if (req.method === 'GET') {
    const a = parseAuthorize(s, url.searchParams, res);
    if (!a) return;
    const signedIn = s.signedInAs();
    if (signedIn !== undefined && s.autoApprove()) return approve(s, a, signedIn, res);
    return authorizePage(s, a, url.searchParams, res);
  }
  if (req.method !== 'POST') return sendHTML(res, 405, 'Method not allowed', '<h1>405</h1>');
  const fields = parseFields(req.headers['content-type'], await readBody(req), new URLSearchParams());
  if (!fields) return sendHTML(res, 400, 'Bad request', '<h1>Bad request</h1>');
  const p = new URLSearchParams(fields);
  const a = parseAuthorize(s, p, res);
  if (!a) return;
  if (fields['authorize'] !== '1') {
    return redirectWith(res, a.redirectURI, {
      error: 'access_denied',
      error_description: 'The user has denied your application access.',
      error_uri: AUTHORIZE_DOCS,
      state: a.state,
    });
  }
  const login = s.signedInAs() ?? fields['login'];
  const user = login ? s.state.user(login) : undefined;
  if (!user) return sendHTML(res, 400, 'Bad request', '<h1>Bad request</h1><p>Unknown account.</p>');
  return approve(s, a, user.login, res);
}

type TokenAnswer = Record<string, string | number>;

function sendToken(req: IncomingMessage, res: ServerResponse, body: TokenAnswer): void {
  const accept = (req.headers.accept ?? '').toLowerCase();
  let text: string;
  let type: string;
  if (accept.includes('application/json')) {
    text = JSON.stringify(body);
    type = 'application/json; charset=utf-8';
  } else if (accept.includes('application/xml')) {
    text = `<OAuth>${Object.entries(body)
      .map(([k, v]) => `<${k}>${escapeHTML(String(v))}</${k}>`)
      .join('')}</OAuth>`;
    type = 'application/xml; charset=utf-8';
  } else {
    text = new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString();
    type = 'application/x-www-form-urlencoded; charset=utf-8';
  }
  // GitHub answers token errors with 200 too.
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function tokenError(error: string, description: string): TokenAnswer {
  return { error, error_description: description, error_uri: ERROR_DOCS };
}

function redactFields(fields: Record<string, string>): Record<string, string> {
  const out = { ...fields };
  if (out['client_secret'] !== undefined) out['client_secret'] = '[redacted]';
  return out;
}

/** `POST /login/oauth/access_token`: code (with PKCE) or GitHub App refresh token → access token. */
export async function handleAccessToken(
  s: OAuthSettings,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  onFields: (fields: Record<string, string>) => void = () => {},
): Promise<void> {
  if (req.method !== 'POST') return sendHTML(res, 404, 'Not Found', '<h1>404</h1>');
  const fields = parseFields(req.headers['content-type'], await readBody(req), url.searchParams);
  if (!fields) return sendToken(req, res, tokenError('invalid_request', 'The request body could not be parsed.'));
  onFields(redactFields(fields));

  const client = fields['client_id'] ? s.state.clients.get(fields['client_id']) : undefined;
  if (!client || fields['client_secret'] === undefined || !safeEqual(fields['client_secret'], client.clientSecret)) {
    return sendToken(
      req,
      res,
      tokenError('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.'),
    );
  }

  if (fields['grant_type'] === 'refresh_token') {
    const rt = fields['refresh_token'] ?? '';
    const record = s.state.refreshTokens.get(rt);
    if (!record || record.clientId !== client.clientId || record.expiresAt <= Date.now()) {
      return sendToken(req, res, tokenError('bad_refresh_token', 'The refresh token passed is incorrect or expired.'));
    }
    s.state.refreshTokens.delete(rt); // rotated, as GitHub does
    return sendToken(req, res, tokenAnswer(s, record.login, client.clientId, record.scopes));
  }

  const code = fields['code'] ?? '';
  const record = s.state.codes.get(code);
  if (!record || record.clientId !== client.clientId || record.expiresAt <= Date.now()) {
    return sendToken(req, res, tokenError('bad_verification_code', 'The code passed is incorrect or expired.'));
  }
  const redirect = fields['redirect_uri'];
  if (redirect !== undefined && record.redirectURI !== undefined && redirect !== record.redirectURI) {
    return sendToken(
      req,
      res,
      tokenError(
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL for this application.',
      ),
    );
  }
  if (record.codeChallenge !== undefined) {
    const verifier = fields['code_verifier'];
    const ok =
      verifier !== undefined &&
      /^[A-Za-z0-9._~-]{43,128}$/.test(verifier) &&
      safeEqual(createHash('sha256').update(verifier).digest('base64url'), record.codeChallenge);
    if (!ok)
      return sendToken(
        req,
        res,
        tokenError('bad_verification_code', 'The code_verifier does not match the code_challenge.'),
      );
  }
  s.state.codes.delete(code); // single use
  return sendToken(req, res, tokenAnswer(s, record.login, client.clientId, record.scopes));
}

function tokenAnswer(s: OAuthSettings, login: string, clientId: string, scopes: string[]): TokenAnswer {
  const issued = s.state.issueToken(login, clientId, scopes, s.tokenLifetimeSeconds);
  const answer: TokenAnswer = { access_token: issued.token, token_type: 'bearer', scope: scopes.join(',') };
  if (issued.refreshToken !== undefined && s.tokenLifetimeSeconds !== undefined) {
    answer['expires_in'] = s.tokenLifetimeSeconds;
    answer['refresh_token'] = issued.refreshToken;
    answer['refresh_token_expires_in'] = 180 * 24 * 3600;
    answer['scope'] = '';
  }
  return answer;
}
