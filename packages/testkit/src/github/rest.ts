import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeGitHubState, FakeGitHubUser, TokenRecord } from './model.ts';
import { DOCS, notFound, sendEmpty, sendJSON } from './respond.ts';

export interface RestSettings {
  state: FakeGitHubState;
  /** Requests per hour per user (`x-ratelimit-limit`). */
  rateLimit: number;
}

/** Page `items` per GitHub's `per_page` (default 30, max 100) and `page`, with a `Link` header. */
export function paginate<T>(items: T[], requestURL: URL): { page: T[]; link: string | undefined } {
  const perRaw = Number(requestURL.searchParams.get('per_page') ?? '30');
  const per = Number.isInteger(perRaw) && perRaw >= 1 ? Math.min(perRaw, 100) : 30;
  const pageRaw = Number(requestURL.searchParams.get('page') ?? '1');
  const page = Number.isInteger(pageRaw) && pageRaw >= 1 ? pageRaw : 1;
  const last = Math.max(1, Math.ceil(items.length / per));
  const at = (n: number): string => {
    const u = new URL(requestURL.href);
    u.searchParams.set('per_page', String(per));
    u.searchParams.set('page', String(n));
    return u.href;
  };
  const rels: string[] = [];
  if (page > 1) rels.push(`<${at(Math.min(page - 1, last))}>; rel="prev"`);
  if (page < last) rels.push(`<${at(page + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
  if (page > 1) rels.push(`<${at(1)}>; rel="first"`);
  return { page: items.slice((page - 1) * per, page * per), link: rels.length > 0 ? rels.join(', ') : undefined };
}

function hasScope(token: TokenRecord, ...any: string[]): boolean {
  // GitHub App user tokens carry no scopes: their app permissions apply (the fake grants all).
  return token.expiresAt !== undefined || any.some((s) => token.scopes.includes(s));
}

function userJSON(u: FakeGitHubUser, base: string): Record<string, unknown> {
  return {
    login: u.login,
    id: u.id,
    node_id: Buffer.from(`04:User${u.id}`).toString('base64'),
    avatar_url: `${base}/avatars/u/${u.id}`,
    url: `${base}/users/${u.login}`,
    html_url: `${base}/${u.login}`,
    type: 'User',
    site_admin: false,
    name: u.name ?? null,
    email: u.email ?? null,
  };
}

/**
 * The REST endpoints the connector uses, at `apiPath` (path after the API prefix). Adds the
 * rate-limit headers GitHub sends and enforces the primary limit.
 */
export function handleRest(
  s: RestSettings,
  req: IncomingMessage,
  res: ServerResponse,
  apiPath: string,
  requestURL: URL,
  apiBase: string,
): void {
  if (req.method !== 'GET') return notFound(res);
  const auth = req.headers.authorization ?? '';
  const m = /^(?:bearer|token)\s+(\S+)$/i.exec(auth.trim());
  if (!m?.[1])
    return sendJSON(res, 401, { message: 'Requires authentication', documentation_url: DOCS, status: '401' });
  const token = s.state.tokens.get(m[1]);
  if (!token || (token.expiresAt !== undefined && token.expiresAt <= Date.now())) {
    return sendJSON(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
  }
  const user = s.state.user(token.login);
  if (!user) return sendJSON(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });

  const nowSec = Math.floor(Date.now() / 1000);
  let window = s.state.rate.get(user.login);
  if (!window || window.reset <= nowSec) {
    window = { remaining: s.rateLimit, reset: nowSec + 3600 };
    s.state.rate.set(user.login, window);
  }
  const rateHeaders = (): Record<string, string> => ({
    'x-ratelimit-limit': String(s.rateLimit),
    'x-ratelimit-remaining': String(window.remaining),
    'x-ratelimit-used': String(s.rateLimit - window.remaining),
    'x-ratelimit-reset': String(window.reset),
    'x-ratelimit-resource': 'core',
    'x-oauth-scopes': token.scopes.join(', '),
    'x-github-api-version-selected': '2022-11-28',
  });
  if (window.remaining <= 0) {
    return sendJSON(
      res,
      403,
      { message: `API rate limit exceeded for user ID ${user.id}.`, documentation_url: DOCS, status: '403' },
      rateHeaders(),
    );
  }
  window.remaining -= 1;

  const list = (items: unknown[]): void => {
    const { page, link } = paginate(items, requestURL);
    sendJSON(res, 200, page, { ...rateHeaders(), ...(link ? { link } : {}) });
  };

  if (apiPath === '/user') return sendJSON(res, 200, userJSON(user, apiBase), rateHeaders());
  if (apiPath === '/user/emails') {
    if (!hasScope(token, 'user', 'user:email'))
      return sendJSON(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, rateHeaders());
    return list(
      (user.emails ?? []).map((e) => {
        const out: Record<string, unknown> = {
          email: e.email,
          primary: e.primary ?? false,
          visibility: e.visibility ?? null,
        };
        if (e.verified !== undefined) out['verified'] = e.verified;
        return out;
      }),
    );
  }
  if (apiPath === '/user/orgs') {
    const full = hasScope(token, 'read:org', 'write:org', 'admin:org', 'user');
    const orgs = s.state.orgsOf(user.login).filter((o) => full || s.state.isPublicMember(o.login, user.login));
    return list(orgs.map((o) => ({ login: o.login, id: o.id, url: `${apiBase}/orgs/${o.login}`, description: null })));
  }
  if (apiPath === '/user/teams') {
    if (!hasScope(token, 'read:org', 'write:org', 'admin:org', 'user', 'repo')) {
      return sendJSON(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, rateHeaders());
    }
    return list(
      s.state.teamsOf(user.login).map((t) => {
        const org = s.state.org(t.org);
        return {
          id: t.id,
          name: t.name,
          slug: t.slug,
          description: null,
          privacy: 'closed',
          permission: 'pull',
          organization: { login: org?.login ?? t.org, id: org?.id ?? 0, url: `${apiBase}/orgs/${org?.login ?? t.org}` },
        };
      }),
    );
  }
  const member = /^\/orgs\/([^/]+)\/(members|public_members)\/([^/]+)$/.exec(apiPath);
  if (member?.[1] && member[2] && member[3]) {
    const orgName = decodeURIComponent(member[1]);
    const target = decodeURIComponent(member[3]);
    const org = s.state.org(orgName);
    if (!org)
      return sendJSON(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, rateHeaders());
    if (member[2] === 'public_members') {
      return s.state.isPublicMember(orgName, target)
        ? sendEmpty(res, 204, rateHeaders())
        : notFoundWith(res, rateHeaders());
    }
    // Without read:org GitHub cannot show concealed memberships, so the requester looks like an outsider.
    const requesterVisible = hasScope(token, 'read:org', 'write:org', 'admin:org', 'user')
      ? s.state.isMember(orgName, user.login)
      : s.state.isPublicMember(orgName, user.login);
    if (!requesterVisible) {
      return sendEmpty(res, 302, {
        ...rateHeaders(),
        location: `${apiBase}/orgs/${encodeURIComponent(org.login)}/public_members/${encodeURIComponent(target)}`,
      });
    }
    return s.state.isMember(orgName, target) ? sendEmpty(res, 204, rateHeaders()) : notFoundWith(res, rateHeaders());
  }
  if (apiPath === '/rate_limit') {
    window.remaining += 1; // not counted, as on GitHub
    const core = {
      limit: s.rateLimit,
      remaining: window.remaining,
      used: s.rateLimit - window.remaining,
      reset: window.reset,
    };
    return sendJSON(res, 200, { resources: { core }, rate: core }, rateHeaders());
  }
  return notFoundWith(res, rateHeaders());
}

function notFoundWith(res: ServerResponse, headers: Record<string, string>): void {
  sendJSON(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, headers);
}
