/**
 * `@gatehouse/issuer/testing`: a real issuer for other packages' tests, and a tiny browser.
 *
 * ```ts
 * const issuer = await startTestIssuer({ staticClients: [{ ...TEST_CLIENT, redirectURIs: [myCallback] }] });
 * const jar = new CookieJar();
 * const done = await login(jar, authorizationURL, { stopAt: myCallback });   // mockCallback: no form
 * // done.location = `${myCallback}?code=…&state=…&iss=…`
 * await issuer.close();
 * ```
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { isRecord } from '@gatehouse/common';
import type { ConnectorFactory } from '@gatehouse/connector-kit';
import { MemoryStore, type Store } from '@gatehouse/storage';
import { getFreePort, waitForPort } from '@gatehouse/testkit/ports';
import { configDefaults } from '../config/defaults.ts';
import type { ConnectorConfig, IssuerConfig, OAuth2Config, StaticClient } from '../config/types.ts';
import type { ThrottleOptions } from '../server/login/throttle.ts';
import { startIssuer, type RunningIssuer } from '../server/start.ts';

/** The default confidential client of a test issuer. */
export const TEST_CLIENT: StaticClient = {
  id: 'test-client',
  secret: 'test-client-secret-that-is-long-enough',
  redirectURIs: ['http://127.0.0.1:9/callback'],
  postLogoutRedirectURIs: ['http://127.0.0.1:9/logged-out'],
  trustedPeers: [],
  public: false,
  name: 'Test Client',
};

/** The default connector: Dex's `mockCallback` (always Kilgore Trout, no UI). */
export const MOCK_CONNECTOR: ConnectorConfig = { type: 'mockCallback', id: 'mock', name: 'Mock', config: {} };

export interface StartTestIssuerOptions {
  /** Default: `[MOCK_CONNECTOR]`. */
  connectors?: ConnectorConfig[];
  /** Default: `[TEST_CLIENT]`. */
  staticClients?: StaticClient[];
  /** Default: a fresh `MemoryStore` (closed with the issuer). A store you pass is not closed. */
  store?: Store;
  connectorFactories?: ConnectorFactory[];
  /** Deep-merged one level into the config (e.g. `{ oauth2: { skipApprovalScreen: false } }`). */
  overrides?: Partial<IssuerConfig>;
  logger?: pino.Logger;
  /** Password-form throttling; default: 5 failures per username, 30 per address, per minute. */
  throttle?: Partial<ThrottleOptions>;
}

/**
 * The `oauth2` section of a test issuer (code + refresh grants, approval screen skipped, PKCE
 * S256 not enforced) with `extra` keys replacing the defaults. `overrides` merge only one level
 * deep, so pass `{ oauth2: testOAuth2({ grantTypes: [...] }) }` to change a single key.
 */
export function testOAuth2(extra: Partial<OAuth2Config> = {}): OAuth2Config {
  return {
    ...configDefaults().oauth2,
    grantTypes: ['authorization_code', 'refresh_token'],
    skipApprovalScreen: true,
    ...extra,
  };
}

/** A complete, valid issuer config for tests: the file defaults (configDefaults) with memory storage, the approval screen skipped, errors-only logs. */
export function testIssuerConfig(port: number, options: StartTestIssuerOptions = {}): IssuerConfig {
  const defaults = configDefaults();
  const base: IssuerConfig = {
    ...defaults,
    issuer: `http://127.0.0.1:${port}/dex`,
    storage: { type: 'memory', config: {} },
    web: { ...defaults.web, http: `127.0.0.1:${port}` },
    oauth2: testOAuth2(),
    staticClients: options.staticClients ?? [TEST_CLIENT],
    connectors: options.connectors ?? [MOCK_CONNECTOR],
    logger: { ...defaults.logger, level: 'error' },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(options.overrides ?? {})) {
    const current = merged[k];
    merged[k] = isRecord(v) && isRecord(current) ? { ...current, ...v } : v;
  }
  return merged as unknown as IssuerConfig;
}

/** Starts an issuer on a free loopback port. `issuer.issuerURL` is `http://127.0.0.1:<port>/dex`. */
export async function startTestIssuer(options: StartTestIssuerOptions = {}): Promise<RunningIssuer> {
  const logger = options.logger ?? pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await getFreePort();
    const store = options.store ?? new MemoryStore();
    try {
      const running = await startIssuer({
        config: testIssuerConfig(port, options),
        logger,
        store,
        ...(options.connectorFactories ? { connectorFactories: options.connectorFactories } : {}),
        throttle: { windowMs: 60_000, ...options.throttle },
      });
      if (options.store) return running;
      // We made the store: close it with the issuer.
      const close = running.close.bind(running);
      return Object.defineProperties(running, {
        close: {
          value: async () => {
            await close();
            await store.close();
          },
        },
      });
    } catch (err) {
      if (!options.store) await store.close().catch(() => undefined);
      lastError = err;
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw lastError;
}

/** Starts a test issuer, runs `fn` with it and closes it, also when `fn` throws. */
export async function withTestIssuer<T>(
  options: StartTestIssuerOptions,
  fn: (issuer: RunningIssuer) => Promise<T>,
): Promise<T> {
  const issuer = await startTestIssuer(options);
  try {
    return await fn(issuer);
  } finally {
    await issuer.close();
  }
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  host: string;
  expires: number | undefined;
}

/** Cookies by host and path, as a browser keeps them (enough for loopback HTTP tests). */
export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Takes the `Set-Cookie` headers of a response to `url`. */
  store(url: string | URL, response: Response): void {
    const u = new URL(url);
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = u.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires: number | undefined;
      for (const a of attrs) {
        const [k = '', v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path') path = v.trim() || '/';
        if (key === 'max-age') expires = Date.now() + Number(v) * 1000;
        if (key === 'expires' && expires === undefined) expires = Date.parse(v);
      }
      const id = `${u.host}|${path}|${name}`;
      if (expires !== undefined && expires <= Date.now()) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path, host: u.host, expires });
    }
  }

  /** The `Cookie` header a browser would send to `url`. */
  header(url: string | URL): string {
    const u = new URL(url);
    const now = Date.now();
    return [...this.#cookies.values()]
      .filter((c) => c.host === u.host && (c.expires === undefined || c.expires > now))
      .filter((c) => u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** A cookie's value for `url`, if the jar would send it. */
  get(url: string | URL, name: string): string | undefined {
    const pair = this.header(url)
      .split('; ')
      .find((p) => p.startsWith(`${name}=`));
    return pair?.slice(name.length + 1);
  }
}

export interface BrowseOptions {
  method?: 'GET' | 'POST';
  /** Urlencoded form body (POST). */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Stop (without requesting it) at a redirect whose location starts with this, e.g. the client's redirect_uri. */
  stopAt?: string;
  /** Default 20. */
  maxRedirects?: number;
}

export interface BrowseResult {
  /** The last response received. */
  response: Response;
  /** URL of the last response. */
  url: string;
  /** Its body (text). */
  body: string;
  status: number;
  /** When stopped at `stopAt`: the redirect location (absolute). */
  location?: string;
  /** Every URL requested, in order. */
  visited: string[];
}

/**
 * Requests `url` like a browser without JavaScript: sends the jar's cookies, stores new ones,
 * follows redirects by hand (303/302/301 → GET, 307/308 keep the method) and immediate meta
 * refreshes, and stops at the first other response or at a location starting with `stopAt`.
 */
export async function browse(jar: CookieJar, url: string, options: BrowseOptions = {}): Promise<BrowseResult> {
  let current = url;
  let method = options.method ?? (options.form ? 'POST' : 'GET');
  let body: string | undefined = options.form ? new URLSearchParams(options.form).toString() : undefined;
  const visited: string[] = [];
  for (let hop = 0; hop <= (options.maxRedirects ?? 20); hop++) {
    visited.push(current);
    const headers: Record<string, string> = { accept: 'text/html', ...options.headers };
    const cookie = jar.header(current);
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(current, {
      method,
      headers,
      redirect: 'manual',
      ...(body !== undefined ? { body } : {}),
    });
    jar.store(current, response);
    const loc = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && loc) {
      await response.arrayBuffer();
      const next = new URL(loc, current).toString();
      if (options.stopAt && next.startsWith(options.stopAt)) {
        return { response, url: current, body: '', status: response.status, location: next, visited };
      }
      if (response.status !== 307 && response.status !== 308) {
        method = 'GET';
        body = undefined;
      }
      current = next;
      continue;
    }
    const text = await response.text();
    // A page that moves on by itself (meta refresh, as the issuer answers a successful form):
    // a browser follows it with a GET.
    const refresh =
      response.status === 200 ? /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(text)?.[1] : undefined;
    if (refresh !== undefined && hop < (options.maxRedirects ?? 20)) {
      const next = new URL(refresh.replace(/&amp;/g, '&'), current).toString();
      if (options.stopAt && next.startsWith(options.stopAt)) {
        return { response, url: current, body: text, status: response.status, location: next, visited };
      }
      method = 'GET';
      body = undefined;
      current = next;
      continue;
    }
    return { response, url: current, body: text, status: response.status, visited };
  }
  throw new Error(`too many redirects from ${url}`);
}

/** The `action` of the first form on a page, absolute. */
export function formAction(page: BrowseResult): string {
  const m = /<form[^>]*\saction="([^"]+)"/.exec(page.body);
  if (!m?.[1]) throw new Error(`no form on ${page.url} (status ${page.status})`);
  return new URL(m[1].replace(/&amp;/g, '&'), page.url).toString();
}

export interface LoginOptions {
  /** Where the client's redirect_uri starts: the flow stops there. */
  stopAt: string;
  /** For a password connector. */
  username?: string;
  password?: string;
  /** On the connector choice page, the connector to click (its id). Default: the first. */
  connectorId?: string;
  /** On the approval page: approve (default) or deny. */
  approve?: boolean;
}

/**
 * Drives a whole login from an authorization URL: connector choice, password form, approval.
 * Returns the stop at the client's redirect_uri (`location` carries `code` and `state`), or the
 * page where it got stuck (an error page, the password form with an error, ...).
 */
export async function login(jar: CookieJar, authorizationURL: string, o: LoginOptions): Promise<BrowseResult> {
  let page = await browse(jar, authorizationURL, { stopAt: o.stopAt });
  for (let step = 0; step < 5 && page.location === undefined && page.status === 200; step++) {
    if (page.body.includes('name="password"')) {
      if (o.username === undefined || o.password === undefined) return page;
      page = await browse(jar, formAction(page), {
        form: { login: o.username, password: o.password },
        stopAt: o.stopAt,
      });
      if (page.body.includes('name="password"')) return page;
    } else if (page.body.includes('name="approval"')) {
      page = await browse(jar, formAction(page), {
        form: { approval: o.approve === false ? 'deny' : 'approve' },
        stopAt: o.stopAt,
      });
    } else if (page.body.includes('/connector/')) {
      const links = [...page.body.matchAll(/href="([^"]*\/connector\/([^"/]+))"/g)];
      const pick = links.find((l) => decodeURIComponent(l[2] ?? '') === o.connectorId) ?? links[0];
      if (!pick?.[1]) return page;
      page = await browse(jar, new URL(pick[1].replace(/&amp;/g, '&'), page.url).toString(), { stopAt: o.stopAt });
    } else {
      return page;
    }
  }
  return page;
}

/**
 * Sends `count` requests, `concurrency` at a time (fetch keeps connections alive), and returns
 * how often each status was answered and how long it all took.
 */
export async function flood(
  count: number,
  concurrency: number,
  send: (i: number) => Promise<Response>,
): Promise<{ statuses: Record<number, number>; ms: number }> {
  const statuses: Record<number, number> = {};
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const res = await send(i);
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }),
  );
  return { statuses, ms: Math.round(performance.now() - started) };
}

/** A client for `loginForCode` / `tokenRequest`: its id, secret (null: public) and redirect URI. */
export interface CodeClient {
  id: string;
  secret: string | null;
  redirect: string;
}

export const TEST_CODE_CLIENT: CodeClient = {
  id: TEST_CLIENT.id,
  secret: TEST_CLIENT.secret!,
  redirect: TEST_CLIENT.redirectURIs[0]!,
};

/**
 * A whole login through `issuerURL` (a connector without UI, e.g. mockCallback) for an
 * authorization code with PKCE S256; throws where it got stuck.
 */
export async function loginForCode(
  issuerURL: string,
  client: CodeClient = TEST_CODE_CLIENT,
  scope = 'openid email profile',
): Promise<{ code: string; verifier: string; state: string }> {
  const b64url = (b: Buffer): string => b.toString('base64url');
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const auth = new URL(`${issuerURL}/auth`);
  auth.search = new URLSearchParams({
    client_id: client.id,
    redirect_uri: client.redirect,
    response_type: 'code',
    scope,
    state,
    nonce: b64url(randomBytes(16)),
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  }).toString();
  const done = await login(new CookieJar(), auth.toString(), { stopAt: client.redirect });
  if (done.location === undefined)
    throw new Error(`login stuck at ${done.url} (${done.status}): ${done.body.slice(0, 300)}`);
  const back = new URL(done.location);
  const code = back.searchParams.get('code');
  if (back.searchParams.get('state') !== state || !code) throw new Error(`no code for this login: ${done.location}`);
  return { code, verifier, state };
}

/** A token request (`form`) at `tokenURL` with the client's HTTP Basic credentials (or its id, for a public client). */
export function tokenRequest(tokenURL: string, client: CodeClient, form: Record<string, string>): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (client.secret !== null)
    headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const body = new URLSearchParams(client.secret === null ? { client_id: client.id, ...form } : form);
  return fetch(tokenURL, { method: 'POST', headers, body });
}

/** An issuer in a process of its own: `gatehouse serve <configFile>` (and `args`), listening on `port`. */
export interface IssuerProcess {
  url: string;
  /** What it printed so far (pino JSON lines). */
  output(): string;
  /** Whether the process is still running (a crash shows here). */
  alive(): boolean;
  /** Stops it with `signal` (default SIGTERM, a clean shutdown; SIGKILL: a replica dying mid-request). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startIssuerProcess(
  configFile: string,
  port: number,
  options: { cwd: string; args?: string[]; env?: NodeJS.ProcessEnv },
): Promise<IssuerProcess> {
  const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
  const child = spawn(process.execPath, [cli, 'serve', ...(options.args ?? []), configFile], {
    cwd: options.cwd,
    env: { PATH: process.env['PATH'], ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (alive()) child.kill(signal);
    await exited;
  };
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => Promise.reject(new Error(`issuer exited: ${output.slice(-2000)}`))),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, output: () => output, alive, stop };
}
