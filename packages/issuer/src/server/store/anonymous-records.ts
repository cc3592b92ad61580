/**
 * What a client that has not logged in can make the issuer write, and the bound on each.
 *
 * oidc-provider stores a record for anonymous requests: an Interaction for every `GET /auth`, a
 * Session for the xsrf secret of the device and logout pages, a DeviceCode for every device
 * authorization and a PushedAuthorizationRequest for every PAR request. On the Kubernetes store
 * each is an etcd object: anyone who can reach the issuer could pile them up (Dex's AuthRequests,
 * dexidp/dex#1292). So:
 *
 * - **Held by the browser.** An Interaction until its login has an authenticated result (the
 *   connector vouched for a user), and a Session until it has an account, are sealed (JWE,
 *   A256GCM, under a key derived from the cookie secret every replica shares, see keys/key-manager.ts) into a
 *   cookie beside oidc-provider's own (`_interaction` / `_session`), bound to the model and record
 *   id and expiring with the record. Any replica continues a login another began, and nothing is
 *   written before someone logs in. Replaying such a cookie only replays what the browser already
 *   asked for (the authorization request); the record that grants something (after login) is the
 *   Store's, single-use as before. Why not a rate-limited record instead: a limit that protects
 *   the Store is one a flood from other addresses can spend, locking real users out.
 * - **Stored within a budget.** What another party must find without the browser's cookies:
 *   a DeviceCode (the device polls, the user types the code on another machine) and a PAR
 *   request (the browser brings only its `request_uri`), when the client is public (no client
 *   authentication: anyone can send them); and a copy of an Interaction when it leaves for an
 *   upstream IdP, so that a `form_post` answer (a cross-site POST, without cookies) can be shown
 *   its Continue page. Each is counted per client address and in total per replica, in fixed
 *   windows (`AnonymousBudget`). Past the budget a device or PAR request gets 429
 *   `temporarily_unavailable` with Retry-After; an Interaction simply stays in its cookie (a
 *   query answer still completes; only a `form_post` answer finds no login then).
 */
import { createHash, hkdfSync } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CompactEncrypt, compactDecrypt } from 'jose';
import Provider, { errors } from 'oidc-provider';
import {
  ForwardingModelStore,
  ForwardingStore,
  type ModelName,
  type ModelPayload,
  type ModelStore,
  type Store,
} from '@gatehouse/storage';
import { clientAddress } from '../http/security.ts';

/** Limits of `AnonymousBudget`; the defaults are stated in the README. */
export interface AnonymousBudgetOptions {
  /** Window length, ms. */
  windowMs: number;
  /** Records one client address may cause per window. */
  perAddress: number;
  /** Records all anonymous clients together may cause per window (per replica). */
  total: number;
  now?: () => number;
  /** Told once per window when the total is spent (then the budget refuses everyone), and when an address first is. */
  onExhausted?: (limit: 'total' | 'address') => void;
}

export const DEFAULT_ANONYMOUS_BUDGET: AnonymousBudgetOptions = { windowMs: 10 * 60_000, perAddress: 20, total: 1000 };

/** How long an Interaction's copy for a form_post answer stays in the Store (seconds). */
export const UPSTREAM_COPY_TTL = 600;

/**
 * Fixed-window counters, in memory: per replica, like the login throttle (see login/throttle.ts).
 * With R replicas, at most R × `total` anonymous records per window. The address map holds at
 * most `total` entries per window (an address is only added while the total has room).
 */
export class AnonymousBudget {
  readonly #o: AnonymousBudgetOptions;
  #windowStart = 0;
  #total = 0;
  #byAddress = new Map<string, number>();
  #told = new Set<'total' | 'address'>();

  constructor(options: Partial<AnonymousBudgetOptions> = {}) {
    this.#o = { ...DEFAULT_ANONYMOUS_BUDGET, ...options };
  }

  /** Takes one record's worth for `address`; false (nothing taken) past either limit. */
  take(address: string): boolean {
    const now = this.#o.now?.() ?? Date.now();
    if (now - this.#windowStart >= this.#o.windowMs) {
      this.#windowStart = now;
      this.#total = 0;
      this.#byAddress = new Map();
      this.#told.clear();
    }
    const used = this.#byAddress.get(address) ?? 0;
    if (used >= this.#o.perAddress || this.#total >= this.#o.total) {
      const limit = this.#total >= this.#o.total ? 'total' : 'address';
      if (!this.#told.has(limit)) {
        this.#told.add(limit);
        this.#o.onExhausted?.(limit);
      }
      return false;
    }
    this.#byAddress.set(address, used + 1);
    this.#total++;
    return true;
  }

  /** Seconds until the current window ends. */
  retryAfter(): number {
    const now = this.#o.now?.() ?? Date.now();
    return Math.max(1, Math.ceil((this.#windowStart + this.#o.windowMs - now) / 1000));
  }
}

/** The koa context of the current request (oidc-provider's, or our outer app's). */
interface RequestContext {
  req: { headers: Record<string, string | string[] | undefined>; socket: { remoteAddress?: string } };
  cookies: { set(name: string, value: string | null, options?: Record<string, unknown>): unknown };
  oidc?: { route?: string; client?: { clientAuthMethod?: string } };
  set?(field: string, value: string): void;
}

export interface AnonymousRecordsOptions {
  /** The cookie secrets every replica shares (keys/key-manager.ts); the first seals, all open. */
  cookieKeys(): string[];
  /** Path of the issuer URL ('' at the root). */
  basePath: string;
  trustedProxies: readonly string[];
  budget: AnonymousBudget;
  /** The current request's context, or undefined outside a request. */
  scope?: () => object | undefined;
}

interface Held {
  cookie: string;
  path(basePath: string, id: string): string;
  /** True while the record must not reach the Store. */
  anonymous(payload: ModelPayload): boolean;
}

/** Login state that a connector vouched for, or an outcome to hand to oidc-provider's resume. */
function interactionAuthenticated(payload: ModelPayload): boolean {
  const result = payload.result as Record<string, unknown> | undefined;
  if (!result || typeof result !== 'object') return false;
  if (Object.keys(result).some((k) => k !== 'gatehouse')) return true;
  return (result.gatehouse as { identity?: unknown } | undefined)?.identity !== undefined;
}

const HELD: Partial<Record<ModelName, Held>> = {
  // The path of oidc-provider's `_interaction` cookie: sent to this login's pages only.
  Interaction: {
    cookie: '_interaction_state',
    path: (base, id) => `${base}/interaction/${id}`,
    anonymous: (p) => !interactionAuthenticated(p),
  },
  Session: { cookie: '_session_state', path: (base) => base || '/', anonymous: (p) => typeof p.accountId !== 'string' },
};

/** Longest sealed value we set: browsers drop a cookie over 4096 bytes (name and attributes included). */
const MAX_SEALED = 3800;
/** Largest record a sealed value may inflate to. */
const MAX_PLAIN = 64 * 1024;

const currentContext = (): RequestContext | undefined => Provider.ctx as unknown as RequestContext | undefined;

/** RFC 6265 cookie pairs: `;`-separated `name=value`, every value of `name`. */
function cookieValues(header: string | string[] | undefined, name: string): string[] {
  const text = Array.isArray(header) ? header.join(';') : (header ?? '');
  const values: string[] = [];
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) values.push(pair.slice(eq + 1).trim());
  }
  return values;
}

class SealingKeys {
  readonly #source: () => string[];
  #for: string[] = [];
  #keys: Uint8Array[] = [];
  constructor(source: () => string[]) {
    this.#source = source;
  }
  all(): Uint8Array[] {
    const secrets = this.#source();
    if (secrets.join(',') !== this.#for.join(',')) {
      this.#for = secrets;
      this.#keys = secrets.map(
        (s) =>
          new Uint8Array(
            hkdfSync('sha256', Buffer.from(s), Buffer.alloc(0), 'gatehouse browser-held record A256GCM', 32),
          ),
      );
    }
    return this.#keys;
  }
}

/** Holds or budgets anonymous writes (upsert), reads them back (find, destroy); the other calls pass through. */
class AnonymousModelStore extends ForwardingModelStore {
  readonly #name: ModelName;
  readonly #held: Held | undefined;
  readonly #o: AnonymousRecordsOptions;
  readonly #keys: SealingKeys;

  constructor(name: ModelName, inner: ModelStore, options: AnonymousRecordsOptions, keys: SealingKeys) {
    super(inner);
    this.#name = name;
    this.#held = HELD[name];
    this.#o = options;
    this.#keys = keys;
  }

  #context(): RequestContext | undefined {
    return ((this.#o.scope ?? currentContext)() as RequestContext | undefined) ?? undefined;
  }

  #address(ctx: RequestContext): string {
    return clientAddress(ctx.req as never, this.#o.trustedProxies);
  }

  /**
   * JWE (dir, A256GCM) of the deflated `{ m, id, exp, p }`: compressed because a cookie holds
   * 4 KB and an authorization request's parameters (a state carrying a return URL) repeat a lot.
   */
  async #seal(id: string, payload: ModelPayload, expiresIn: number): Promise<string> {
    const [key] = this.#keys.all();
    if (!key) throw new Error('no cookie key to seal with');
    const exp = Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(expiresIn));
    const plain = deflateRawSync(JSON.stringify({ m: this.#name, id: digest(id), exp, p: payload }));
    return new CompactEncrypt(plain).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
  }

  async #open(id: string, value: string): Promise<ModelPayload | undefined> {
    if (value.length > MAX_SEALED) return undefined;
    for (const key of this.#keys.all()) {
      let plain: Uint8Array;
      try {
        ({ plaintext: plain } = await compactDecrypt(value, key, {
          contentEncryptionAlgorithms: ['A256GCM'],
          keyManagementAlgorithms: ['dir'],
        }));
      } catch {
        continue; // not ours, tampered, or sealed with another key: try the next key
      }
      try {
        const sealed = JSON.parse(inflateRawSync(plain, { maxOutputLength: MAX_PLAIN }).toString('utf8')) as {
          m?: unknown;
          id?: unknown;
          exp?: unknown;
          p?: unknown;
        };
        // Bound to its model and id (a cookie of another login, or kind, opens as nothing), and expiring with the record.
        if (
          sealed.m !== this.#name ||
          sealed.id !== digest(id) ||
          typeof sealed.exp !== 'number' ||
          sealed.exp <= Date.now() / 1000
        )
          return undefined;
        return typeof sealed.p === 'object' && sealed.p !== null ? (sealed.p as ModelPayload) : undefined;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  #setCookie(ctx: RequestContext, held: Held, id: string, value: string | null, maxAgeSeconds: number): void {
    ctx.cookies.set(held.cookie, value, {
      path: held.path(this.#o.basePath, id),
      httpOnly: true,
      sameSite: 'lax',
      signed: false,
      overwrite: true,
      ...(value === null ? {} : { maxAge: maxAgeSeconds * 1000 }),
    });
  }

  #carried(ctx: RequestContext, held: Held): string[] {
    return cookieValues(ctx.req.headers.cookie, held.cookie);
  }

  override async upsert(id: string, payload: ModelPayload, expiresIn?: number): Promise<void> {
    const held = this.#held;
    const ctx = held ? this.#context() : undefined;
    if (held && ctx && expiresIn !== undefined && expiresIn > 0 && held.anonymous(payload)) {
      const sealed = await this.#seal(id, payload, expiresIn);
      if (sealed.length > MAX_SEALED) throw new errors.InvalidRequest('the authorization request is too large');
      this.#setCookie(ctx, held, id, sealed, expiresIn);
      // A login leaving for an upstream IdP: a copy in the Store (short-lived, within the
      // budget) so that a form_post answer, which comes without cookies, finds its login.
      if (this.#name === 'Interaction' && payload.result !== undefined && this.#o.budget.take(this.#address(ctx))) {
        await this.inner.upsert(id, payload, Math.min(expiresIn, UPSTREAM_COPY_TTL));
      }
      return;
    }
    if (!held && this.#budgeted()) this.#spend();
    await this.inner.upsert(id, payload, expiresIn);
    if (held && ctx && this.#carried(ctx, held).length > 0) this.#setCookie(ctx, held, id, null, 0);
  }

  /** A DeviceCode or PAR request of a public client (no client authentication) being created. */
  #budgeted(): boolean {
    const ctx = currentContext();
    const route = ctx?.oidc?.route;
    const created =
      (this.#name === 'DeviceCode' && route === 'device_authorization') ||
      (this.#name === 'PushedAuthorizationRequest' && route === 'pushed_authorization_request');
    return created && ctx?.oidc?.client?.clientAuthMethod === 'none';
  }

  #spend(): void {
    const ctx = currentContext();
    if (!ctx || this.#o.budget.take(this.#address(ctx))) return;
    const retry = this.#o.budget.retryAfter();
    ctx.set?.('Retry-After', String(retry));
    const err = new errors.CustomOIDCProviderError(
      'temporarily_unavailable',
      'too many requests from this address or in total; try again later',
    );
    Object.assign(err, { status: 429, statusCode: 429, expose: true });
    throw err;
  }

  override async find(id: string): Promise<ModelPayload | undefined> {
    const stored = await this.inner.find(id);
    if (stored || !this.#held || typeof id !== 'string') return stored;
    const ctx = this.#context();
    if (!ctx) return undefined;
    for (const value of this.#carried(ctx, this.#held)) {
      const opened = await this.#open(id, value);
      if (opened) return opened;
    }
    return undefined;
  }

  override async destroy(id: string): Promise<void> {
    await this.inner.destroy(id);
    const ctx = this.#held ? this.#context() : undefined;
    if (this.#held && ctx && this.#carried(ctx, this.#held).length > 0) this.#setCookie(ctx, this.#held, id, null, 0);
  }
}

const digest = (id: string): string => createHash('sha256').update(id).digest('base64url').slice(0, 22);

/** The Store with anonymous records held by the browser or budgeted (see the top of this file). */
export class AnonymousRecordsStore extends ForwardingStore {
  readonly #o: AnonymousRecordsOptions;
  readonly #keys: SealingKeys;
  readonly #models = new Map<ModelName, ModelStore>();

  constructor(inner: Store, options: AnonymousRecordsOptions) {
    super(inner);
    this.#o = options;
    this.#keys = new SealingKeys(options.cookieKeys);
  }

  override model(name: ModelName): ModelStore {
    let model = this.#models.get(name);
    if (!model)
      this.#models.set(name, (model = new AnonymousModelStore(name, this.inner.model(name), this.#o, this.#keys)));
    return model;
  }
}
