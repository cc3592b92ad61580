/**
 * A small REST client for the Kubernetes API: connection settings and credentials come from
 * @kubernetes/client-node's KubeConfig (kubeconfig file or in-cluster service account), requests
 * go over one keep-alive HTTPS agent with a bounded timeout each. Transport failures and 5xx
 * become StoreError('unavailable'); HTTP statuses are returned to the caller to interpret.
 */
import { readFileSync, statSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { StoreError } from '@gatehouse/storage';

export interface KubeResponse {
  status: number;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
}

export interface KubeClientOptions {
  /** Bound on every request (default 10 s). */
  requestTimeoutMs?: number;
  /** How often a service-account token file is re-read (default 60 s, as client-go). */
  tokenRereadMs?: number;
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Safe to resend once when a kept-alive connection turned out to be dead (default: true except POST/PATCH). */
  retryOnReset?: boolean;
}

export class KubeClient {
  readonly server: URL;
  readonly #kc: KubeConfig;
  readonly #agent: HttpsAgent | HttpAgent;
  readonly #timeoutMs: number;
  readonly #tokenRereadMs: number;
  #tokenCache: { token: string; readAt: number; mtimeMs: number } | undefined;
  #requests = 0;
  readonly #byResource = new Map<string, number>();
  #closed = false;

  constructor(kc: KubeConfig, options: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new StoreError('invalid', 'kubernetes: no current cluster in the configuration');
    this.#kc = kc;
    this.server = new URL(cluster.server);
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#tokenRereadMs = options.tokenRereadMs ?? 60_000;
    const user = kc.getCurrentUser();
    const tls = {
      keepAlive: true,
      maxSockets: 64,
      ca: fileOrData(cluster.caFile, cluster.caData),
      cert: fileOrData(user?.certFile, user?.certData),
      key: fileOrData(user?.keyFile, user?.keyData),
      rejectUnauthorized: !cluster.skipTLSVerify,
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
      minVersion: 'TLSv1.2' as const,
    };
    if (this.server.protocol === 'http:' && !cluster.skipTLSVerify) {
      throw new StoreError(
        'invalid',
        'kubernetes: refusing plain http to the API server (set skipTLSVerify to allow it)',
      );
    }
    this.#agent =
      this.server.protocol === 'https:' ? new HttpsAgent(tls) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  }

  /** Requests sent so far (the bench counts round-trips with it). */
  get requestCount(): number {
    return this.#requests;
  }

  /** Requests sent so far per resource (plural, e.g. `grants`; tests count round-trips per model). */
  get requestCountsByResource(): ReadonlyMap<string, number> {
    return this.#byResource;
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Headers with the current credentials (a rotated service-account token is picked up). */
  async authHeaders(): Promise<Record<string, string>> {
    const user = this.#kc.getCurrentUser();
    if (!user) return {};
    if (user.token) return { authorization: `Bearer ${user.token}` };
    const tokenFile = (user.authProvider?.config as { tokenFile?: string } | undefined)?.tokenFile;
    if (tokenFile) return { authorization: `Bearer ${this.#readTokenFile(tokenFile)}` };
    if (user.username) {
      return { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` };
    }
    if (user.exec || user.authProvider) {
      // exec plugins and other providers: let client-node compute the header.
      const opts: RequestOptions = { headers: {} };
      await this.#kc.applyToHTTPSOptions(opts);
      const header = (opts.headers as Record<string, string | undefined>).Authorization;
      return header ? { authorization: header } : {};
    }
    return {};
  }

  #readTokenFile(file: string): string {
    const now = Date.now();
    const cached = this.#tokenCache;
    if (cached && now - cached.readAt < this.#tokenRereadMs) return cached.token;
    try {
      const mtimeMs = statSync(file).mtimeMs;
      if (cached && cached.mtimeMs === mtimeMs) {
        cached.readAt = now;
        return cached.token;
      }
      const token = readFileSync(file, 'utf8').trim();
      this.#tokenCache = { token, readAt: now, mtimeMs };
      return token;
    } catch (cause) {
      throw new StoreError('unavailable', `kubernetes: cannot read the service-account token ${file}`, { cause });
    }
  }

  async request(req: KubeRequest): Promise<KubeResponse> {
    if (this.#closed) throw new StoreError('unavailable', 'kubernetes store is closed');
    const retry = req.retryOnReset ?? (req.method !== 'POST' && req.method !== 'PATCH');
    try {
      return await this.#once(req);
    } catch (error) {
      if (retry && isReset(error)) return this.#once(req);
      throw error;
    }
  }

  async #once(req: KubeRequest): Promise<KubeResponse> {
    const url = new URL(req.path, this.server);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = { accept: 'application/json', ...(await this.authHeaders()) };
    if (payload) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    this.#requests++;
    const resource = resourceOf(url.pathname);
    this.#byResource.set(resource, (this.#byResource.get(resource) ?? 0) + 1);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<KubeResponse>((resolve, reject) => {
      const r = send(url, { method: req.method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', (cause) => reject(unavailable(req, cause)));
        res.once('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 500 || status === 429) {
            reject(
              new StoreError(
                'unavailable',
                `kubernetes: ${req.method} ${req.path} answered ${status}${statusMessage(body)}`,
              ),
            );
            return;
          }
          if (status === 401 || status === 403) {
            reject(
              new StoreError(
                'unavailable',
                `kubernetes: ${req.method} ${req.path} answered ${status}${statusMessage(body)}`,
              ),
            );
            return;
          }
          resolve({ status, body });
        });
      });
      const timer = setTimeout(() => {
        r.destroy(
          new StoreError('unavailable', `kubernetes: ${req.method} ${req.path} timed out after ${this.#timeoutMs} ms`),
        );
      }, this.#timeoutMs);
      r.once('error', (cause) => {
        clearTimeout(timer);
        reject(cause instanceof StoreError ? cause : unavailable(req, cause));
      });
      r.end(payload);
    });
  }

  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }
}

/** The resource of an API path: `/apis/<group>/<version>/namespaces/<ns>/<plural>/...` → plural. */
function resourceOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const ns = parts.indexOf('namespaces');
  const at = ns >= 0 && parts.length > ns + 2 ? ns + 2 : parts[0] === 'api' ? 2 : 3;
  return parts[at] ?? '';
}

function unavailable(req: KubeRequest, cause: unknown): StoreError {
  const code = (cause as { code?: string }).code;
  return new StoreError(
    'unavailable',
    `kubernetes: ${req.method} ${req.path} failed: ${code ?? (cause as Error).message}`,
    { cause },
  );
}

function isReset(error: unknown): boolean {
  const code = ((error as { cause?: { code?: string } }).cause ?? (error as { code?: string }))?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** ` (Reason: message)` from a Kubernetes Status body. */
export function statusMessage(body: unknown): string {
  const s = body as { reason?: string; message?: string } | undefined;
  return s && typeof s === 'object' && (s.reason || s.message) ? ` (${s.reason ?? ''}: ${s.message ?? ''})` : '';
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}
