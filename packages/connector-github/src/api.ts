import { ConnectorError, parseJSONBody } from '@gatehouse/connector-kit';
import type { ConnectorErrorCode, ConnectorLogger } from '@gatehouse/connector-kit';
import { z } from '@gatehouse/connector-kit';
import { GITHUB_API_VERSION, apiError } from './http.ts';
import type { GitHubHttp, HttpRequest, HttpResponse } from './http.ts';

/** Largest page GitHub serves. */
const PER_PAGE = 100;
/** Bound on pages followed for one list (10 000 entries): a loop in `Link` headers cannot hang a login. */
const MAX_PAGES = 100;

export const userSchema = z.looseObject({
  id: z.number().int(),
  login: z.string().min(1),
  name: z.string().nullish(),
  email: z.string().nullish(),
});
export type GitHubUser = z.output<typeof userSchema>;

export const emailSchema = z.looseObject({
  email: z.string(),
  primary: z.boolean().nullish(),
  verified: z.boolean().nullish(),
});
export type GitHubEmail = z.output<typeof emailSchema>;

export const orgSchema = z.looseObject({ login: z.string().min(1) });

export const teamSchema = z.looseObject({
  name: z.string(),
  slug: z.string(),
  organization: z.looseObject({ login: z.string().min(1) }),
});
export type GitHubTeam = z.output<typeof teamSchema>;

/** `rel` → URL from an RFC 8288 `Link` header as GitHub sends it. */
export function parseLinkHeader(header: string | null): Map<string, string> {
  const links = new Map<string, string>();
  if (!header) return links;
  for (const m of header.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]*)*)/g)) {
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(m[2] ?? '')?.[1];
    if (rel === undefined || m[1] === undefined) continue;
    for (const r of rel.trim().split(/\s+/)) links.set(r.toLowerCase(), m[1]);
  }
  return links;
}

/**
 * The REST calls the connector makes with one user's access token. The token goes only to URLs
 * under the configured API base (pagination links included).
 */
export class GitHubApi {
  readonly #http: GitHubHttp;
  readonly #base: URL;
  readonly #token: string;
  readonly #unauthorizedCode: ConnectorErrorCode;
  readonly #logger: ConnectorLogger;

  constructor(
    http: GitHubHttp,
    apiBase: string,
    token: string,
    unauthorizedCode: ConnectorErrorCode,
    logger: ConnectorLogger,
  ) {
    this.#http = http;
    this.#base = new URL(apiBase.endsWith('/') ? apiBase : `${apiBase}/`);
    this.#token = token;
    this.#unauthorizedCode = unauthorizedCode;
    this.#logger = logger;
  }

  async user(): Promise<GitHubUser> {
    return this.#parse('GET /user', userSchema, await this.#getJSON('user', 'GET /user'));
  }

  emails(): Promise<GitHubEmail[]> {
    return this.#list('user/emails', 'GET /user/emails', emailSchema);
  }

  orgs(): Promise<Array<z.output<typeof orgSchema>>> {
    return this.#list('user/orgs', 'GET /user/orgs', orgSchema);
  }

  teams(): Promise<GitHubTeam[]> {
    return this.#list('user/teams', 'GET /user/teams', teamSchema);
  }

  /** `GET /orgs/{org}/members/{username}`: 204 member; 404, or 302 when the requester is not a member: not. */
  async isOrgMember(org: string, login: string): Promise<boolean> {
    const what = 'GET /orgs/{org}/members/{username}';
    const res = await this.#send(
      new URL(`orgs/${encodeURIComponent(org)}/members/${encodeURIComponent(login)}`, this.#base),
      what,
    );
    if (res.status === 204) return true;
    if (res.status === 404 || res.status === 302) return false;
    throw this.#error(what, res);
  }

  async #getJSON(path: string, what: string): Promise<unknown> {
    const res = await this.#send(new URL(path, this.#base), what);
    if (res.status !== 200) throw this.#error(what, res);
    return parseJSON(what, res.text);
  }

  async #list<S extends z.ZodType>(path: string, what: string, item: S): Promise<Array<z.output<S>>> {
    const items: Array<z.output<S>> = [];
    let url: URL | undefined = new URL(path, this.#base);
    url.searchParams.set('per_page', String(PER_PAGE));
    for (let page = 1; url !== undefined; page += 1) {
      if (page > MAX_PAGES) {
        throw new ConnectorError('upstream_error', `${what}: more than ${MAX_PAGES} pages`, {
          userMessage: 'GitHub returned more results than can be handled.',
        });
      }
      const res = await this.#send(url, what);
      if (res.status !== 200) throw this.#error(what, res);
      const body = parseJSON(what, res.text);
      items.push(...this.#parse(what, z.array(item), body));
      url = this.#nextPage(res, what);
    }
    return items;
  }

  #nextPage(res: HttpResponse, what: string): URL | undefined {
    const next = parseLinkHeader(res.headers.get('link')).get('next');
    if (next === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(next, this.#base);
    } catch {
      throw new ConnectorError('upstream_error', `${what}: unreadable next-page link`);
    }
    // Never send the token anywhere but the configured API.
    if (url.origin !== this.#base.origin || !url.pathname.startsWith(this.#base.pathname)) {
      throw new ConnectorError('upstream_error', `${what}: next-page link leaves the GitHub API (${url.origin})`);
    }
    return url;
  }

  #send(url: URL, what: string): Promise<HttpResponse> {
    const req: HttpRequest = {
      method: 'GET',
      url: url.href,
      what,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.#token}`,
        'x-github-api-version': GITHUB_API_VERSION,
      },
    };
    return this.#http.send(req);
  }

  #error(what: string, res: HttpResponse): ConnectorError {
    return apiError({ what }, res, this.#unauthorizedCode, this.#logger);
  }

  #parse<S extends z.ZodType>(what: string, schema: S, body: unknown): z.output<S> {
    const result = schema.safeParse(body);
    if (!result.success) {
      throw new ConnectorError(
        'upstream_error',
        `${what}: unexpected response shape (${result.error.issues[0]?.message ?? 'invalid'})`,
        {
          userMessage: 'GitHub sent an answer that could not be understood.',
        },
      );
    }
    return result.data;
  }
}

/** A JSON body, or `upstream_error`. */
export function parseJSON(what: string, text: string): unknown {
  return parseJSONBody({ upstream: 'GitHub', what }, text);
}
