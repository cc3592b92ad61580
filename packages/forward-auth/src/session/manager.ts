// Cookie sessions: sealing into (possibly chunked) cookies, reading back through a bounded cache of decrypted
// entries keyed by the cookie value, and the per-session precomputed answer of /oauth2/auth.
import { randomBytes } from 'node:crypto';
import type { ForwardAuthConfig } from '../config/schema.ts';
import { emailDomainAllowed, groupsAllowed, type Identity } from '../authz.ts';
import { authResponseHeaders } from '../headers.ts';
import { CookieCipher } from './cipher.ts';
import {
  MAX_DELETIONS_PER_RESPONSE,
  RequestCookies,
  chooseCookieDomain,
  deletions,
  findCookie,
  joinedChunks,
  presentChunkNames,
  serializeCookie,
  splitValue,
  stripPort,
  type CookieAttributes,
} from './cookies.ts';
import { LRU } from './lru.ts';
import { RevocationList, loginKey, tokenKey, tokenLifetime } from './revocations.ts';
import { packSession, unpackSession, type Session } from './payload.ts';

/** What happened to a session after its refresh: later requests still carrying the old cookie reuse it. */
export type SessionFate =
  | {
      readonly kind: 'refreshed';
      readonly entry: SessionEntry;
      /** The Set-Cookie headers writing the new session (one, or its chunks), without clearing stale ones. */
      readonly written: readonly string[];
      readonly until: number;
    }
  | { readonly kind: 'revoked'; readonly until: number };

export interface SessionEntry {
  readonly session: Session;
  /** The sealed cookie value this entry was decrypted from (compared in full on every cache hit). */
  value: string;
  readonly identity: Identity;
  /** email_domains and allowed_groups hold. */
  readonly authorized: boolean;
  /** Flat header list of the 202 (Content-Length: 0 first). */
  readonly headers: readonly string[];
  /** When a refresh is due (ms); Infinity when cookie_refresh is off or there is no refresh token. */
  refreshAt: number;
  fate: SessionFate | undefined;
  /** What a sign-out of this login revokes (see RevocationList). */
  readonly revocationKey: string;
  /** The login time the fold watermark is compared with (0 for cookies of older versions). */
  readonly loginAt: number;
}

export interface LoadedSession {
  /** The sealed value (joined when chunked): the cache key and the single-flight key of a refresh. */
  readonly value: string;
  readonly entry: SessionEntry;
}

/**
 * Cache key of a sealed value: its first 32 characters (version, key id, the random 96-bit IV and a little
 * ciphertext). Hashing the whole 1-4 KB value on every lookup costs more than the rest of /oauth2/auth; the full
 * value is compared on each hit, so a value that shares the prefix is a miss, never someone else's session.
 */
const KEY_LENGTH = 32;

export class SessionManager {
  readonly #cfg: ForwardAuthConfig;
  readonly #cipher: CookieCipher;
  readonly #cache: LRU<string, SessionEntry>;
  readonly #name: string;
  readonly #chunk0: string;
  readonly #revocations: RevocationList;
  onCache: ((result: 'hit' | 'miss' | 'invalid' | 'conflict') => void) | undefined;

  constructor(cfg: ForwardAuthConfig, revocations = new RevocationList()) {
    this.#cfg = cfg;
    this.#revocations = revocations;
    this.#cipher = new CookieCipher([cfg.cookie_secret, ...cfg.cookie_secrets], 'session');
    this.#cache = new LRU(cfg.session_cache_size);
    this.#name = cfg.cookie_name;
    this.#chunk0 = `${cfg.cookie_name}_0`;
  }

  get cookieName(): string {
    return this.#name;
  }

  /**
   * The session a request carries, or undefined (absent, malformed, foreign, tampered, expired, revoked, or
   * ambiguous). The common case, one session cookie, is a scan of the header and a cache lookup. When the name is
   * sent more than once, or as a whole cookie and as chunks (a sibling subdomain or a `Path=/x` cookie "tossing" its
   * own session next to ours), the browser's order says nothing about which one we set, so none is picked by
   * position: every copy is opened, unreadable ones are ignored, and when the live ones belong to different users
   * the request has no session (never the attacker's). Copies of one user (an old host-only cookie next to a
   * `cookie_domains` one, stale chunks after a refresh) resolve to the whole cookie, else the newest.
   */
  load(cookieHeader: string | undefined, now = Date.now()): LoadedSession | undefined {
    if (cookieHeader === undefined) return undefined;
    const whole = findCookie(cookieHeader, this.#name);
    const mayHaveChunks = cookieHeader.includes(this.#chunk0);
    if (typeof whole === 'string' && !mayHaveChunks) return this.#resolve(whole, now);
    if (whole === undefined && !mayHaveChunks) return undefined;
    return this.#loadAmong(RequestCookies.parse(cookieHeader), now);
  }

  #loadAmong(cookies: RequestCookies, now: number): LoadedSession | undefined {
    const found: Array<LoadedSession & { whole: boolean }> = [];
    // A signed-out copy is no session: it neither wins nor makes the request ambiguous.
    for (const value of cookies.values(this.#name)) {
      const loaded = this.#resolve(value, now);
      if (loaded !== undefined && loaded.entry.fate?.kind !== 'revoked') found.push({ ...loaded, whole: true });
    }
    const joined = joinedChunks(cookies, this.#name);
    if (typeof joined === 'string') {
      const loaded = this.#resolve(joined, now);
      if (loaded !== undefined && loaded.entry.fate?.kind !== 'revoked') found.push({ ...loaded, whole: false });
    }
    const first = found[0];
    if (first === undefined) return undefined;
    if (found.some((f) => f.entry.session.user !== first.entry.session.user)) {
      this.onCache?.('conflict');
      return undefined;
    }
    let best = first;
    for (const f of found) {
      if (f.whole !== best.whole ? f.whole : f.entry.session.createdAt > best.entry.session.createdAt) best = f;
    }
    return { value: best.value, entry: best.entry };
  }

  /** The live session of one sealed value, through the cache. */
  #resolve(value: string, now: number): LoadedSession | undefined {
    if (value === '') return undefined;
    const key = value.slice(0, KEY_LENGTH);
    let entry = this.#cache.get(key);
    if (entry === undefined || entry.value !== value) {
      const session = this.#open(value);
      if (session === undefined) {
        this.onCache?.('invalid');
        return undefined;
      }
      entry = this.entryFor(session, value);
      if (now < session.expiresAt) this.#cache.set(key, entry);
      this.onCache?.('miss');
    } else {
      this.onCache?.('hit');
    }
    if (now >= entry.session.expiresAt) {
      if (this.#cache.get(key) === entry) this.#cache.delete(key);
      return undefined;
    }
    // The revocation list, not the cache, decides: a cached entry may have been signed out at another replica,
    // and an evicted one comes back here without its fate.
    if (entry.fate?.kind !== 'revoked' && this.#revocations.revoked(entry.revocationKey, entry.loginAt, now)) {
      entry.fate = { kind: 'revoked', until: entry.session.expiresAt };
    }
    return { value, entry };
  }

  /**
   * Signs a login out: this entry is refused at once, and the revocation list refuses every cookie of the login
   * (all refreshes keep its id, and none expires later than cookie_expire from now) and its bearer tokens.
   */
  revoke(entry: SessionEntry, now = Date.now()): void {
    const s = entry.session;
    entry.fate = { kind: 'revoked', until: s.expiresAt };
    const longest = now + this.#cfg.cookie_expire;
    this.#revocations.add(entry.revocationKey, s.sid === undefined ? s.expiresAt : longest, now);
    for (const token of [s.idToken, s.accessToken])
      if (token !== undefined) this.#revocations.add(tokenKey(token), tokenLifetime(token, longest), now);
  }

  #open(value: string): Session | undefined {
    const plain = this.#cipher.open(value, this.#name);
    return plain === undefined ? undefined : unpackSession(plain);
  }

  /** Builds the cached view of a session: identity, authorization, 202 headers, refresh deadline. */
  entryFor(session: Session, value = ''): SessionEntry {
    const identity: Identity = {
      user: session.user,
      groups: session.groups,
      ...(session.email === undefined ? {} : { email: session.email }),
      ...(session.preferredUsername === undefined ? {} : { preferredUsername: session.preferredUsername }),
    };
    const c = this.#cfg;
    return {
      session,
      value,
      identity,
      authorized:
        emailDomainAllowed(identity.email, c.email_domains) && groupsAllowed(identity.groups, c.allowed_groups),
      headers: authResponseHeaders(identity, session.accessToken, {
        setXAuthRequest: c.set_xauthrequest,
        passAccessToken: c.pass_access_token,
      }),
      refreshAt:
        c.cookie_refresh > 0 && session.refreshToken !== undefined ? session.createdAt + c.cookie_refresh : Infinity,
      fate: undefined,
      revocationKey: loginKey(session.sid, value),
      loginAt: session.loginAt ?? 0,
    };
  }

  /**
   * A new session for an identity and its tokens, keeping only the tokens the configuration needs. `continues`:
   * the session a refresh replaces, whose login (id and time) the new one keeps.
   */
  create(
    identity: Identity,
    tokens: { idToken?: string | undefined; accessToken?: string | undefined; refreshToken?: string | undefined },
    cookieDomain: string | undefined,
    now = Date.now(),
    continues?: Session,
  ): Session {
    const c = this.#cfg;
    return {
      sid: continues?.sid ?? randomBytes(16).toString('base64url'),
      loginAt: continues?.sid === undefined ? now : (continues.loginAt ?? now),
      ...(cookieDomain === undefined ? {} : { cookieDomain }),
      user: identity.user,
      groups: identity.groups,
      createdAt: now,
      expiresAt: now + c.cookie_expire,
      ...(identity.email === undefined ? {} : { email: identity.email }),
      ...(identity.preferredUsername === undefined ? {} : { preferredUsername: identity.preferredUsername }),
      ...(tokens.idToken === undefined ? {} : { idToken: tokens.idToken }),
      ...(c.pass_access_token && tokens.accessToken !== undefined ? { accessToken: tokens.accessToken } : {}),
      ...(c.cookie_refresh > 0 && tokens.refreshToken !== undefined ? { refreshToken: tokens.refreshToken } : {}),
    };
  }

  /** The cookie_domains entry for a request host (label boundary, longest wins), or undefined: host-only. */
  domainFor(host: string | undefined): string | undefined {
    return chooseCookieDomain(host, this.#cfg.cookie_domains);
  }

  attributes(host: string | undefined, maxAgeSeconds: number): CookieAttributes {
    return this.attributesFor(this.domainFor(host), maxAgeSeconds);
  }

  attributesFor(domain: string | undefined, maxAgeSeconds: number): CookieAttributes {
    return {
      path: this.#cfg.cookie_path,
      ...(domain === undefined ? {} : { domain }),
      secure: this.#cfg.cookie_secure,
      httpOnly: this.#cfg.cookie_httponly,
      sameSite: this.#cfg.cookie_samesite,
      maxAge: maxAgeSeconds,
    };
  }

  /**
   * Set-Cookie headers storing `session`, split into `<name>_0..n` above 4 KB, clearing the cookies of the
   * other layout and stale extra chunks the request still carries. Caches the entry under the new value. A session
   * that would need chunks drops its id_token (only an optional hint at end_session) when that keeps it in one
   * cookie: nginx passes one Set-Cookie of an auth subrequest, so only a one-cookie session refreshes in-band.
   */
  seal(
    session: Session,
    host: string | undefined,
    cookieHeader: string | undefined,
    now = Date.now(),
  ): { value: string; setCookie: string[]; written: string[]; entry: SessionEntry } {
    const domain = session.cookieDomain ?? this.domainFor(host);
    if (session.cookieDomain === undefined && domain !== undefined) session = { ...session, cookieDomain: domain };
    const attrs = this.attributesFor(domain, Math.max(1, Math.floor((session.expiresAt - now) / 1000)));
    let value = this.#cipher.seal(packSession(session), this.#name);
    if (session.idToken !== undefined && splitValue(this.#name, value, attrs).length > 1) {
      const { idToken: _hint, ...lean } = session;
      const leanValue = this.#cipher.seal(packSession(lean), this.#name);
      if (splitValue(this.#name, leanValue, attrs).length === 1) {
        session = lean;
        value = leanValue;
      }
    }
    const entry = this.entryFor(session, value);
    this.#cache.set(value.slice(0, KEY_LENGTH), entry);
    return { value, ...this.cookiesFor(entry, host, cookieHeader, now), entry };
  }

  /**
   * The Set-Cookie headers of an already sealed entry: `written` stores it (one cookie or its chunks), `setCookie`
   * adds the deletions of the other layout and stale chunks the request carries.
   */
  cookiesFor(
    entry: SessionEntry,
    host: string | undefined,
    cookieHeader: string | undefined,
    now = Date.now(),
  ): { setCookie: string[]; written: string[] } {
    const session = entry.session;
    const domain = session.cookieDomain ?? this.domainFor(host);
    const attrs = this.attributesFor(domain, Math.max(1, Math.floor((session.expiresAt - now) / 1000)));
    const chunks = splitValue(this.#name, entry.value, attrs);
    const names = chunks.length === 1 ? [this.#name] : chunks.map((_, i) => `${this.#name}_${i}`);
    const written = chunks.map((chunk, i) => serializeCookie(names[i] as string, chunk, attrs));
    const stale = presentChunkNames(RequestCookies.parse(cookieHeader), this.#name).filter((n) => !names.includes(n));
    return { setCookie: [...written, ...deletions(stale, this.attributesFor(domain, 0))], written };
  }

  /**
   * Deletions of the session cookie (and chunks) the request carries under the Domain variants we could have set
   * other than `domain`: host-only and each matching `cookie_domains` entry. The callback sends them with a new
   * session, so copies left by a `cookie_domains` change, or tossed under one of our domains, no longer make the
   * request ambiguous (see load). A copy under a Domain or Path we never use cannot be named from here.
   */
  clearOtherCopies(domain: string | undefined, host: string | undefined, cookieHeader: string | undefined): string[] {
    const names = presentChunkNames(RequestCookies.parse(cookieHeader), this.#name);
    if (names.length === 0 || host === undefined) return [];
    const h = stripPort(host).toLowerCase();
    const variants = new Set<string | undefined>([
      undefined,
      ...this.#cfg.cookie_domains
        .map((d) => d.toLowerCase().replace(/^\./, ''))
        .filter((d) => h === d || h.endsWith(`.${d}`)),
    ]);
    variants.delete(domain);
    return [...variants]
      .flatMap((variant) => deletions(names, this.attributesFor(variant, 0)))
      .slice(0, MAX_DELETIONS_PER_RESPONSE);
  }

  /**
   * Set-Cookie headers deleting the session cookie and every chunk the request carries. A revoked entry stays
   * cached (with its fate) so a replayed cookie is refused without decrypting or asking the issuer again.
   */
  clear(host: string | undefined, cookieHeader: string | undefined, session?: Session): string[] {
    const names = new Set([this.#name, ...presentChunkNames(RequestCookies.parse(cookieHeader), this.#name)]);
    return deletions(names, this.attributesFor(session?.cookieDomain ?? this.domainFor(host), 0));
  }
}
