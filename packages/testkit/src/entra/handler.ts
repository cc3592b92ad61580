import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import type { JWK } from 'jose';
import { randomToken, secretEquals } from './directory.ts';
import type { Directory, DirectoryUser, PendingLogin } from './directory.ts';
import { errorPage, formPost, loginForm } from './html.ts';
import type { FakeEntraEndpoint, FakeEntraFault, RecordedRequest } from './types.ts';

export interface HandlerOptions {
  directory: Directory;
  signingKey: Parameters<SignJWT['sign']>[0];
  kid: string;
  publicJwk: JWK;
  baseURL: () => string;
  faults: Array<FakeEntraFault & { remaining: number }>;
  requests: RecordedRequest[];
  graphPageSize: number;
  accessTokenSeconds: number;
  /** When set, `@odata.nextLink` points at this origin instead of the fake (a hostile Graph). */
  nextLinkOrigin: { value: string | undefined };
}

type Res = ServerResponse;
const MULTI_TENANT = new Set(['common', 'organizations']);
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
const GROUP_LIST_SCOPES = ['user.readbasic.all', 'user.read.all', 'groupmember.read.all', 'group.read.all', 'directory.read.all', 'directory.readwrite.all'];
const DIRECTORY_READ_SCOPES = ['directory.read.all', 'directory.readwrite.all'];
const BODY_LIMIT = 1 << 20;

class BadBody extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BadBody('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function html(res: Res, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

/** An AADSTS error as the v2.0 token endpoint sends it (what msal parses). */
function oauthError(res: Res, status: number, error: string, code: number, description: string): void {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  json(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

function graphError(res: Res, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  json(
    res,
    status,
    { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID(), 'client-request-id': randomUUID() } } },
    headers,
  );
}

function endpointOf(path: string): FakeEntraEndpoint | undefined {
  if (path.startsWith('/v1.0/')) return 'graph';
  if (path.endsWith('/.well-known/openid-configuration')) return 'discovery';
  if (path.endsWith('/discovery/v2.0/keys')) return 'keys';
  if (path.endsWith('/oauth2/v2.0/token')) return 'token';
  if (path.endsWith('/oauth2/v2.0/authorize') || path.endsWith('/login')) return 'authorize';
  return undefined;
}

function hasScope(granted: string, wanted: string[]): boolean {
  const set = new Set(granted.toLowerCase().split(/\s+/));
  return wanted.some((w) => set.has(w));
}

function b64url(value: string): string {
  return Buffer.from(value).toString('base64url');
}

export function createHandler(o: HandlerOptions) {
  const { directory } = o;

  /** The first live fault for this request. OAuth-error faults wait for the request that can carry them. */
  const takeFault = (endpoint: FakeEntraEndpoint, carriesOAuthError: boolean): (FakeEntraFault & { remaining: number }) | undefined => {
    const f = o.faults.find(
      (x) => (x.where === endpoint || x.where === 'all') && x.remaining > 0 && (carriesOAuthError || x.oauthError === undefined),
    );
    if (f) f.remaining -= 1;
    return f;
  };

  /** Applies a status/hang/delay fault; returns true when the request has been dealt with. */
  const applyFault = async (fault: FakeEntraFault | undefined, endpoint: FakeEntraEndpoint, res: Res): Promise<boolean> => {
    if (!fault) return false;
    if (fault.hang) return true; // the socket stays open until the fake closes
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.status === undefined) return false;
    const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
    if (endpoint === 'graph') {
      const code = fault.status === 429 ? 'TooManyRequests' : fault.status === 503 ? 'serviceNotAvailable' : 'generalException';
      graphError(res, fault.status, code, `Injected fault: HTTP ${fault.status}`, headers);
    } else if (endpoint === 'authorize') {
      res.writeHead(fault.status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(errorPage(90033, 'A transient error has occurred. Please try again.'));
    } else {
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...headers });
      res.end(`Injected fault: HTTP ${fault.status}`);
    }
    return true;
  };

  const tenantOK = (tenant: string): boolean => MULTI_TENANT.has(tenant) || directory.knownTenants().has(tenant);

  const discovery = (tenant: string) => {
    const base = o.baseURL();
    const issuerTenant = MULTI_TENANT.has(tenant) ? '{tenantid}' : tenant;
    return {
      token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'oid', 'email'],
      kerberos_endpoint: `${base}/${tenant}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  };

  // ---------- authorize ----------

  const authorize = async (res: Res, tenant: string, query: URLSearchParams): Promise<void> => {
    const clientId = query.get('client_id') ?? '';
    const client = directory.clients.get(clientId);
    if (!client) {
      return html(res, 400, errorPage(700016, `Application with identifier '${clientId}' was not found in the directory.`));
    }
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!client.redirectUris.includes(redirectUri)) {
      return html(res, 400, errorPage(50011, `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`));
    }
    const state = query.get('state') ?? undefined;
    const responseMode = query.get('response_mode') === 'form_post' ? 'form_post' : 'query';
    const back = (params: Record<string, string>) => redirectBack(res, redirectUri, responseMode, { ...params, ...(state ? { state } : {}) });
    if (query.get('response_type') !== 'code') {
      return back({ error: 'unsupported_response_type', error_description: 'AADSTS70005: response_type is not enabled for the client.' });
    }
    const method = query.get('code_challenge_method');
    if (query.get('code_challenge') && method !== 'S256' && method !== 'plain') {
      return back({ error: 'invalid_request', error_description: 'AADSTS501491: Invalid size of Code_Challenge parameter.' });
    }
    if (!query.get('scope')) {
      return back({ error: 'invalid_request', error_description: "AADSTS900144: The request body must contain the following parameter: 'scope'." });
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
  };

  const redirectBack = (res: Res, redirectUri: string, mode: 'query' | 'form_post', params: Record<string, string>): void => {
    if (mode === 'form_post') return html(res, 200, formPost(redirectUri, params));
    const target = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    res.writeHead(302, { location: target.href, 'cache-control': 'no-store' });
    res.end();
  };

  const submitLogin = async (res: Res, tenant: string, form: URLSearchParams, fault: FakeEntraFault | undefined): Promise<void> => {
    const ctx = form.get('ctx') ?? '';
    const login = directory.pending.get(ctx);
    if (!login || login.expiresAt < Date.now() || login.tenant !== tenant) {
      return html(res, 400, errorPage(50058, 'The sign-in session has expired or is not valid. Start again from the application.'));
    }
    const username = form.get('loginfmt') ?? '';
    const user = directory.findByLogin(username);
    if (!user || !secretEquals(user.password, form.get('passwd') ?? '')) {
      return html(res, 200, loginForm(`/${tenant}/login`, ctx, 'Your account or password is incorrect. (AADSTS50126)', username));
    }
    if (!MULTI_TENANT.has(tenant) && user.tid !== tenant) {
      return html(res, 200, loginForm(`/${tenant}/login`, ctx, `AADSTS50020: User account '${username}' does not exist in tenant '${tenant}'.`, username));
    }
    directory.pending.delete(ctx);
    const stateParam: Record<string, string> = login.state ? { state: login.state } : {};
    if (fault?.oauthError) {
      const e = fault.oauthError;
      return redirectBack(res, login.redirectUri, login.responseMode, { error: e.error, error_description: `AADSTS${e.code}: ${e.description}`, ...stateParam });
    }
    const code = randomToken('code');
    directory.codes.set(code, { login, oid: user.oid, expiresAt: Date.now() + 10 * 60_000 });
    redirectBack(res, login.redirectUri, login.responseMode, { code, ...stateParam, session_state: randomUUID() });
  };

  // ---------- token ----------

  const idToken = async (user: DirectoryUser, clientId: string, nonce: string | undefined): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      ver: '2.0',
      oid: user.oid,
      tid: user.tid,
      name: user.displayName,
      preferred_username: user.userPrincipalName,
      ...(user.mail ? { email: user.mail } : {}),
      ...(user.emailDomainOwnerVerified ? { xms_edov: true } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      uti: randomUUID().replace(/-/g, '').slice(0, 22),
      rh: '0.fake.',
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: o.kid })
      .setIssuer(`${o.baseURL()}/${user.tid}/v2.0`)
      .setAudience(clientId)
      .setSubject(createHash('sha256').update(`${user.oid}:${clientId}`).digest('base64url').slice(0, 43))
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 3600)
      .sign(o.signingKey);
  };

  const issueTokens = async (res: Res, user: DirectoryUser, clientId: string, scope: string, nonce: string | undefined): Promise<void> => {
    const resourceScopes = scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s.toLowerCase()));
    const granted = resourceScopes.length > 0 ? resourceScopes.join(' ') : 'User.Read';
    const accessToken = randomToken('at');
    const refreshToken = randomToken('rt');
    const generation = directory.generation(user.oid);
    directory.accessTokens.set(accessToken, { oid: user.oid, clientId, scope: granted, generation, expiresAt: Date.now() + o.accessTokenSeconds * 1000 });
    directory.refreshTokens.set(refreshToken, { oid: user.oid, clientId, scope, generation });
    json(res, 200, {
      token_type: 'Bearer',
      scope: `${granted} openid profile email`,
      expires_in: o.accessTokenSeconds,
      ext_expires_in: o.accessTokenSeconds,
      access_token: accessToken,
      refresh_token: refreshToken,
      id_token: await idToken(user, clientId, nonce),
      client_info: b64url(JSON.stringify({ uid: user.oid, utid: user.tid })),
    });
  };

  const token = async (req: IncomingMessage, res: Res, tenant: string, form: URLSearchParams): Promise<void> => {
    let clientId = form.get('client_id') ?? '';
    let secret = form.get('client_secret');
    const basic = req.headers.authorization;
    if (basic?.startsWith('Basic ')) {
      const [id, pw] = Buffer.from(basic.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
      clientId = id ?? clientId;
      secret = pw ?? null;
    }
    const client = directory.clients.get(clientId);
    if (!client) return oauthError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    if (secret === null) return oauthError(res, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (!secretEquals(client.clientSecret, secret)) return oauthError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');

    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      const issued = directory.codes.get(code);
      if (!issued) return oauthError(res, 400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
      directory.codes.delete(code); // single use, even when the rest of the request is wrong
      if (issued.expiresAt < Date.now()) return oauthError(res, 400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity.');
      if (issued.login.clientId !== clientId) return oauthError(res, 400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
      if (issued.login.tenant !== tenant) return oauthError(res, 400, 'invalid_grant', 70000, 'The code was issued for another tenant endpoint.');
      if ((form.get('redirect_uri') ?? '') !== issued.login.redirectUri) {
        return oauthError(res, 400, 'invalid_grant', 50148, 'The redirect_uri does not match the one of the authorization request.');
      }
      if (issued.login.codeChallenge !== undefined) {
        const verifier = form.get('code_verifier') ?? '';
        const computed = issued.login.codeChallengeMethod === 'plain' ? verifier : createHash('sha256').update(verifier).digest('base64url');
        if (!verifier || !secretEquals(computed, issued.login.codeChallenge)) {
          return oauthError(res, 400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
        }
      }
      const user = directory.users.get(issued.oid);
      if (!user) return oauthError(res, 400, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
      return issueTokens(res, user, clientId, form.get('scope') ?? issued.login.scope, issued.login.nonce);
    }
    if (grantType === 'refresh_token') {
      const grant = directory.refreshTokens.get(form.get('refresh_token') ?? '');
      if (!grant || grant.clientId !== clientId) return oauthError(res, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
      const user = directory.users.get(grant.oid);
      if (!user) return oauthError(res, 400, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
      if (grant.generation !== directory.generation(grant.oid)) {
        return oauthError(res, 400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked, a fresh auth token is needed.');
      }
      return issueTokens(res, user, clientId, form.get('scope') ?? grant.scope, undefined);
    }
    return oauthError(res, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType ?? ''}'.`);
  };

  // ---------- Graph ----------

  const graphUser = (req: IncomingMessage, res: Res): { user: DirectoryUser; scope: string } | undefined => {
    const auth = req.headers.authorization ?? '';
    const at = auth.startsWith('Bearer ') ? directory.accessTokens.get(auth.slice(7)) : undefined;
    if (!at || at.expiresAt < Date.now() || at.generation !== directory.generation(at.oid)) {
      graphError(res, 401, 'InvalidAuthenticationToken', auth ? 'Access token is invalid or has expired.' : 'Access token is empty.');
      return undefined;
    }
    const user = directory.users.get(at.oid);
    if (!user) {
      graphError(res, 404, 'Request_ResourceNotFound', `Resource '${at.oid}' does not exist or one of its queried reference-property objects are not present.`);
      return undefined;
    }
    return { user, scope: at.scope };
  };

  const page = <T>(res: Res, path: string, items: T[], skip: number, context: string): void => {
    const slice = items.slice(skip, skip + o.graphPageSize);
    const next = skip + o.graphPageSize < items.length ? `${o.nextLinkOrigin.value ?? o.baseURL()}${path}?$skiptoken=${b64url(String(skip + o.graphPageSize))}` : undefined;
    json(res, 200, { '@odata.context': context, value: slice, ...(next ? { '@odata.nextLink': next } : {}) });
  };

  const skipOf = (query: URLSearchParams): number | undefined => {
    const token = query.get('$skiptoken');
    if (token === null) return 0;
    const decoded = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString() : '';
    return /^\d{1,9}$/.test(decoded) ? Number(decoded) : undefined;
  };

  const parseJSON = (body: string): Record<string, unknown> | undefined => {
    try {
      const v: unknown = JSON.parse(body);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  const graph = async (req: IncomingMessage, res: Res, path: string, query: URLSearchParams, body: string, record: RecordedRequest): Promise<void> => {
    const base = o.baseURL();
    if (req.method === 'GET' && path === '/v1.0/me') {
      const who = graphUser(req, res);
      if (!who) return;
      const u = who.user;
      const all: Record<string, unknown> = {
        id: u.oid,
        displayName: u.displayName,
        userPrincipalName: u.userPrincipalName,
        mail: u.mail,
        mailNickname: u.mailNickname ?? u.userPrincipalName.split('@')[0],
        onPremisesSamAccountName: u.onPremisesSamAccountName ?? null,
        givenName: null,
        surname: null,
      };
      const select = query.get('$select')?.split(',').map((s) => s.trim()).filter(Boolean);
      const fields = select && select.length > 0 ? select : ['id', 'displayName', 'userPrincipalName', 'mail', 'givenName', 'surname'];
      const unknown = fields.filter((f) => !(f in all));
      if (unknown.length > 0) return graphError(res, 400, 'Request_BadRequest', `Could not find a property named '${unknown[0]}' on type 'microsoft.graph.user'.`);
      const out: Record<string, unknown> = { '@odata.context': `${base}/v1.0/$metadata#users(${fields.join(',')})/$entity` };
      for (const f of fields) out[f] = all[f];
      return json(res, 200, out);
    }
    if (req.method === 'POST' && path === '/v1.0/me/getMemberGroups') {
      const who = graphUser(req, res);
      if (!who) return;
      if (!hasScope(who.scope, GROUP_LIST_SCOPES)) return graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      const parsed = parseJSON(body);
      if (!parsed || typeof parsed.securityEnabledOnly !== 'boolean') {
        return graphError(res, 400, 'Request_BadRequest', "Invalid request: 'securityEnabledOnly' is required and must be a boolean.");
      }
      const skip = skipOf(query);
      if (skip === undefined) return graphError(res, 400, 'Request_BadRequest', 'Invalid $skiptoken.');
      return page(res, path, directory.memberGroups(who.user.oid, parsed.securityEnabledOnly), skip, `${base}/v1.0/$metadata#Collection(Edm.String)`);
    }
    if (req.method === 'POST' && path === '/v1.0/directoryObjects/getByIds') {
      const who = graphUser(req, res);
      if (!who) return;
      if (!hasScope(who.scope, DIRECTORY_READ_SCOPES)) return graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      const parsed = parseJSON(body);
      const ids = parsed?.ids;
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string')) {
        return graphError(res, 400, 'Request_BadRequest', "Invalid request: 'ids' must be a non-empty list of strings.");
      }
      record.idsRequested = ids.length;
      if (ids.length > 1000) return graphError(res, 400, 'Request_BadRequest', 'The number of ids in the request exceeds the maximum of 1000.');
      const types = Array.isArray(parsed?.types) ? (parsed.types as unknown[]).map(String) : undefined;
      if (types && types.some((t) => t !== 'group' && t !== 'user')) return graphError(res, 400, 'Request_BadRequest', 'Unsupported type in types.');
      const found = (ids as string[])
        .map((id) => directory.groups.get(id))
        .filter((g) => g !== undefined && (!types || types.includes('group')))
        .map((g) => ({ '@odata.type': '#microsoft.graph.group', id: g?.id, displayName: g?.displayName, securityEnabled: g?.securityEnabled }));
      const skip = skipOf(query);
      if (skip === undefined) return graphError(res, 400, 'Request_BadRequest', 'Invalid $skiptoken.');
      return page(res, path, found, skip, `${base}/v1.0/$metadata#directoryObjects`);
    }
    graphError(res, 404, 'UnknownError', `Resource not found for the segment '${path}'.`);
  };

  // ---------- routing ----------

  return async (req: IncomingMessage, res: Res): Promise<void> => {
    const parsedURL = new URL(req.url ?? '/', 'https://fake.invalid');
    const path = parsedURL.pathname;
    const record: RecordedRequest = { method: req.method ?? 'GET', path };
    o.requests.push(record);
    const endpoint = endpointOf(path);
    try {
      let body = '';
      if (req.method === 'POST') body = await readBody(req);
      const carriesOAuthError = req.method === 'POST' && (path.endsWith('/login') || path.endsWith('/oauth2/v2.0/token'));
      const fault = endpoint ? takeFault(endpoint, carriesOAuthError) : undefined;
      if (endpoint && (await applyFault(fault, endpoint, res))) return;

      if (endpoint === 'graph') return await graph(req, res, path, parsedURL.searchParams, body, record);

      const m = /^\/([^/]+)\/(.+)$/.exec(path);
      const tenant = m?.[1] ?? '';
      const rest = m?.[2] ?? '';
      if (!m || !tenantOK(tenant)) {
        if (endpoint === 'authorize') return html(res, 400, errorPage(90002, `Tenant '${tenant}' not found.`));
        return oauthError(res, 400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID.`);
      }
      if (req.method === 'GET' && rest === 'v2.0/.well-known/openid-configuration') return json(res, 200, discovery(tenant));
      if (req.method === 'GET' && rest === 'discovery/v2.0/keys') return json(res, 200, { keys: [o.publicJwk] });
      if (req.method === 'GET' && rest === 'oauth2/v2.0/authorize') return await authorize(res, tenant, parsedURL.searchParams);
      if (req.method === 'POST' && rest === 'login') return await submitLogin(res, tenant, new URLSearchParams(body), fault);
      if (req.method === 'POST' && rest === 'oauth2/v2.0/token') {
        if (fault?.oauthError) return oauthError(res, 400, fault.oauthError.error, fault.oauthError.code, fault.oauthError.description);
        const type = req.headers['content-type'] ?? '';
        if (!type.startsWith('application/x-www-form-urlencoded')) {
          return oauthError(res, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
        }
        return await token(req, res, tenant, new URLSearchParams(body));
      }
      if (endpoint === 'token' || endpoint === 'authorize') return json(res, 405, { error: 'method_not_allowed' });
      json(res, 404, { error: 'not_found' });
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      if (error instanceof BadBody) return json(res, 413, { error: 'request_too_large' });
      json(res, 500, { error: 'server_error', error_description: 'fake entra internal error' });
    }
  };
}
