/**
 * `@gatehouse/testkit/github`: a fake GitHub (github.com or GitHub Enterprise Server) speaking the
 * documented OAuth web flow and the REST endpoints an identity broker uses, on 127.0.0.1.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCA } from '../tls.ts';
import { FakeGitHubState } from './model.ts';
import type { FakeGitHubClient, FakeGitHubEmail, FakeGitHubOrg, FakeGitHubTeam, FakeGitHubUser } from './model.ts';
import { handleAccessToken, handleAuthorize } from './oauth.ts';
import type { OAuthSettings } from './oauth.ts';
import { BodyTooLarge, DOCS, notFound, sendJSON } from './respond.ts';
import { handleRest } from './rest.ts';

export type { FakeGitHubClient, FakeGitHubEmail, FakeGitHubOrg, FakeGitHubTeam, FakeGitHubUser } from './model.ts';
export { paginate } from './rest.ts';
export { redirectAllowed } from './oauth.ts';

export interface FakeGitHubOptions {
  users: FakeGitHubUser[];
  orgs?: FakeGitHubOrg[];
  teams?: FakeGitHubTeam[];
  clients: FakeGitHubClient[];
  /** Serve HTTPS with a certificate from a fresh test CA (GitHub Enterprise Server). Default false. */
  https?: boolean;
  /** REST API path prefix. Default `/api/v3` with `https` (GHE), `` otherwise (api.github.com style). */
  apiPrefix?: string;
  /** The browser's signed-in GitHub user. Without one the authorize page asks which account. */
  signedInAs?: string;
  /** Skip the consent page when a user is signed in (as GitHub does once an app was authorized). Default true. */
  autoApprove?: boolean;
  /** Issue GitHub App-style expiring user tokens (with refresh tokens) lasting this long. */
  tokenLifetimeSeconds?: number;
  /** Primary rate limit per user and hour. Default 5000. */
  rateLimit?: number;
}

export type FakeGitHubFaultKind =
  /** 401 Bad credentials, as for a revoked token. */
  | 'unauthorized'
  /** 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (primary rate limit). */
  | 'rateLimit'
  /** 429 with `retry-after` (secondary rate limit). */
  | 'secondaryRateLimit'
  /** HTTP 500 (or `status`). */
  | 'serverError'
  /** 200 with a body that is not JSON. */
  | 'malformed'
  /** Accept the request and never answer. */
  | 'hang';

export interface FakeGitHubFault {
  kind: FakeGitHubFaultKind;
  /** Which side: REST API (default), the OAuth endpoints, or both. */
  on?: 'api' | 'oauth' | 'all';
  /** Only requests whose path (after the API prefix) starts with one of these. */
  paths?: string[];
  /** For `serverError`. Default 500. */
  status?: number;
  /** Seconds for `retry-after` / until `x-ratelimit-reset`. Default 30. */
  seconds?: number;
  /** Clear the fault after this many affected requests. Default: until cleared. */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query (and without the API prefix for REST calls). */
  path: string;
  query: Record<string, string>;
  accept: string | undefined;
  /** Token endpoint fields (client_secret redacted). */
  fields?: Record<string, string>;
  /** Whether an Authorization header was sent (its value is never recorded). */
  authorized: boolean;
}

export interface FakeGitHub {
  /** `http(s)://127.0.0.1:PORT` (OAuth endpoints are under `/login/oauth/`). */
  url: string;
  /** REST API base: `url` + `apiPrefix`. */
  apiURL: string;
  /** `127.0.0.1:PORT`: the connector's `hostName` in GitHub Enterprise mode. */
  hostName: string;
  port: number;
  /** PEM of the CA that signed the HTTPS certificate (`https` only). */
  caCert: string | undefined;
  /** A file holding `caCert` (the connector's `rootCA`), removed on `close()`. */
  caFile: string | undefined;
  /** Every request seen, oldest first. */
  readonly requests: RecordedRequest[];
  state: FakeGitHubState;
  /** Who is signed in at the fake's authorize page (undefined: the page asks). */
  signIn(login: string | undefined): void;
  setAutoApprove(on: boolean): void;
  /** Revoke one access token, or all of them. */
  revokeToken(token?: string): void;
  /** Revoke every token (access and refresh) issued to a user. */
  revokeTokensOf(login: string): void;
  /** Remove a user from an organisation and its teams. */
  removeFromOrg(org: string, login: string): void;
  addToOrg(org: string, login: string, teams?: string[]): void;
  setEmails(login: string, emails: FakeGitHubEmail[]): void;
  /** Register (or replace) an OAuth app, e.g. once the relying party's callback URL is known. */
  registerClient(client: FakeGitHubClient): void;
  setFault(fault: FakeGitHubFault | undefined): void;
  close(): Promise<void>;
}

/** Starts the fake on a free loopback port. */
export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  const state = new FakeGitHubState(options.users, options.orgs ?? [], options.teams ?? [], options.clients);
  const https = options.https ?? false;
  const apiPrefix = (options.apiPrefix ?? (https ? '/api/v3' : '')).replace(/\/+$/, '');
  const requests: RecordedRequest[] = [];
  let signedInAs = options.signedInAs;
  let autoApprove = options.autoApprove ?? true;
  let fault: (FakeGitHubFault & { left: number }) | undefined;
  const hanging = new Set<ServerResponse>();
  let base = '';

  const oauth: OAuthSettings = {
    state,
    signedInAs: () => signedInAs,
    autoApprove: () => autoApprove,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds,
  };

  const applyFault = (res: ServerResponse, side: 'api' | 'oauth', path: string): boolean => {
    if (!fault) return false;
    const on = fault.on ?? 'api';
    if (on !== 'all' && on !== side) return false;
    if (fault.paths && !fault.paths.some((p) => path.startsWith(p))) return false;
    const f = fault;
    f.left -= 1;
    if (f.left <= 0) fault = undefined;
    const seconds = f.seconds ?? 30;
    switch (f.kind) {
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return true;
      case 'unauthorized':
        sendJSON(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
        return true;
      case 'rateLimit': {
        const reset = Math.floor(Date.now() / 1000) + seconds;
        sendJSON(
          res,
          403,
          { message: 'API rate limit exceeded for user ID 1.', documentation_url: DOCS, status: '403' },
          {
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-used': '5000',
            'x-ratelimit-reset': String(reset),
            'x-ratelimit-resource': 'core',
          },
        );
        return true;
      }
      case 'secondaryRateLimit':
        sendJSON(
          res,
          429,
          {
            message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
            documentation_url: DOCS,
            status: '429',
          },
          {
            'retry-after': String(seconds),
          },
        );
        return true;
      case 'serverError':
        sendJSON(res, f.status ?? 500, { message: 'Server Error', status: String(f.status ?? 500) });
        return true;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>unicorn</html>');
        return true;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', base);
    } catch {
      return notFound(res);
    }
    const isOAuth = url.pathname.startsWith('/login/oauth/');
    const inApi = apiPrefix === '' || url.pathname === apiPrefix || url.pathname.startsWith(`${apiPrefix}/`);
    const apiPath = isOAuth ? url.pathname : url.pathname.slice(apiPrefix.length) || '/';
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      path: apiPath,
      query: Object.fromEntries(url.searchParams),
      accept: req.headers.accept,
      authorized: req.headers.authorization !== undefined,
    };
    requests.push(entry);
    if (isOAuth) {
      if (applyFault(res, 'oauth', url.pathname)) return;
      if (url.pathname === '/login/oauth/authorize') return handleAuthorize(oauth, req, res, url);
      if (url.pathname === '/login/oauth/access_token')
        return handleAccessToken(oauth, req, res, url, (fields) => {
          entry.fields = fields;
        });
      return notFound(res);
    }
    if (!inApi) return notFound(res);
    if (applyFault(res, 'api', apiPath)) return;
    return handleRest({ state, rateLimit: options.rateLimit ?? 5000 }, req, res, apiPath, url, `${base}${apiPrefix}`);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof BodyTooLarge) sendJSON(res, 413, { message: 'Payload Too Large' });
      else sendJSON(res, 500, { message: 'fake GitHub internal error', detail: String(error) });
    });
  };

  let caCert: string | undefined;
  let caDir: string | undefined;
  let caFile: string | undefined;
  let server: Server;
  if (https) {
    const ca = await createTestCA('Fake GitHub Enterprise Test CA');
    const leaf = await ca.issue(['127.0.0.1', 'localhost']);
    caCert = ca.caCert;
    caDir = await mkdtemp(join(tmpdir(), 'fake-github-'));
    caFile = join(caDir, 'ca.pem');
    await writeFile(caFile, caCert);
    server = createHttpsServer({ cert: leaf.cert, key: leaf.key }, listener);
  } else {
    server = createHttpServer(listener);
  }
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `${https ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    url: base,
    apiURL: `${base}${apiPrefix}`,
    hostName: `127.0.0.1:${port}`,
    port,
    caCert,
    caFile,
    requests,
    state,
    signIn: (login) => {
      if (login !== undefined && !state.user(login)) throw new Error(`fake GitHub: no user ${login}`);
      signedInAs = login;
    },
    setAutoApprove: (on) => {
      autoApprove = on;
    },
    revokeToken: (token) => state.revokeToken(token),
    revokeTokensOf: (login) => state.revokeTokensOf(login),
    removeFromOrg: (org, login) => state.removeFromOrg(org, login),
    addToOrg: (org, login, teams) => state.addToOrg(org, login, teams),
    setEmails: (login, emails) => {
      const u = state.user(login);
      if (!u) throw new Error(`fake GitHub: no user ${login}`);
      u.emails = structuredClone(emails);
    },
    registerClient: (client) => {
      state.clients.set(client.clientId, { ...client });
    },
    setFault: (f) => {
      fault = f === undefined ? undefined : { ...f, left: f.times ?? Number.POSITIVE_INFINITY };
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (caDir) await rm(caDir, { recursive: true, force: true });
    },
  };
}
