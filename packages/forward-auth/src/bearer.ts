// Bearer JWTs (skip_jwt_bearer_tokens): from our issuer for client_id / oidc_extra_audiences, or from an
// extra_jwt_issuers entry `issuer=audience`. Verified tokens are cached until their expiry.
import { createRemoteJWKSet, decodeJwt, customFetch as joseFetch, jwtVerify, type JWTPayload } from 'jose';
import { claimOptions, identityFromClaims } from './claims.ts';
import type { ForwardAuthConfig } from './config/schema.ts';
import type { FetchLike, OidcClient } from './oidc/client.ts';
import { LRU } from './session/lru.ts';
import { tokenKey, type RevocationList } from './session/revocations.ts';
import type { Identity } from './authz.ts';

const JWT_SHAPE = /^ey[A-Za-z0-9_-]+\.ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface Extra {
  readonly issuer: string;
  readonly audience: string;
  jwks?: Promise<ReturnType<typeof createRemoteJWKSet>>;
}

export interface BearerIdentity {
  readonly identity: Identity;
  readonly expiresAt: number;
}

interface Verified extends BearerIdentity {
  /** The token's revocation key and issue time (ms), checked on every use: a sign-out may come after caching. */
  readonly key: string;
  readonly issuedAt: number;
}

export class BearerVerifier {
  readonly #cfg: ForwardAuthConfig;
  readonly #oidc: OidcClient;
  readonly #fetch: FetchLike;
  readonly #extras: Extra[];
  readonly #cache = new LRU<string, Verified>(2_000);
  readonly #revocations: RevocationList;

  constructor(cfg: ForwardAuthConfig, oidc: OidcClient, revocations: RevocationList, fetchImpl: FetchLike = fetch) {
    this.#cfg = cfg;
    this.#revocations = revocations;
    this.#oidc = oidc;
    this.#fetch = fetchImpl;
    this.#extras = cfg.extra_jwt_issuers.map((entry) => {
      const eq = entry.lastIndexOf('=');
      return { issuer: entry.slice(0, eq), audience: entry.slice(eq + 1) };
    });
  }

  /** The token of `Authorization: Bearer <jwt>`, or undefined. */
  static extract(authorization: string | undefined): string | undefined {
    if (authorization === undefined || authorization.length > 16_384) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m !== null && JWT_SHAPE.test(m[1] as string) ? m[1] : undefined;
  }

  /** The identity of a valid token, or undefined. Never throws. */
  async verify(token: string, now = Date.now()): Promise<BearerIdentity | undefined> {
    const cached = this.#cache.get(token);
    if (cached !== undefined) {
      if (now < cached.expiresAt && !this.#revocations.revoked(cached.key, cached.issuedAt, now)) return cached;
      if (now >= cached.expiresAt) this.#cache.delete(token);
      return undefined;
    }
    // Route by the (unverified) `iss` to the one verifier that can accept it; the signature decides.
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    if (typeof iss !== 'string') return undefined;
    const own = this.#oidc.discovered?.serverMetadata().issuer ?? this.#cfg.oidc_issuer_url;
    const payload = iss === own ? await this.#fromIssuer(token) : await this.#fromExtras(token, iss);
    if (payload === undefined || typeof payload.exp !== 'number') return undefined;
    const r = identityFromClaims(payload, claimOptions(this.#cfg));
    if (!r.ok) return undefined;
    const result: Verified = {
      identity: r.identity,
      expiresAt: payload.exp * 1000,
      key: tokenKey(token),
      issuedAt: typeof payload.iat === 'number' ? payload.iat * 1000 : 0,
    };
    this.#cache.set(token, result);
    if (this.#revocations.revoked(result.key, result.issuedAt, now)) return undefined;
    return result;
  }

  async #fromIssuer(token: string): Promise<JWTPayload | undefined> {
    try {
      return await this.#oidc.verifyJWT(token, [this.#cfg.client_id, ...this.#cfg.oidc_extra_audiences]);
    } catch {
      return undefined;
    }
  }

  async #fromExtras(token: string, iss: string): Promise<JWTPayload | undefined> {
    for (const extra of this.#extras) {
      if (extra.issuer !== iss) continue;
      try {
        const jwks = await (extra.jwks ??= this.#jwksFor(extra.issuer).catch((err: unknown) => {
          extra.jwks = undefined;
          throw err;
        }));
        const { payload } = await jwtVerify(token, jwks, {
          issuer: extra.issuer,
          audience: extra.audience,
          clockTolerance: 30,
        });
        return payload;
      } catch {
        // try the next issuer
      }
    }
    return undefined;
  }

  async #jwksFor(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
    let uri = `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`;
    try {
      const res = await this.#fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) {
        const meta = (await res.json()) as { jwks_uri?: unknown };
        if (typeof meta.jwks_uri === 'string') uri = meta.jwks_uri;
      }
    } catch {
      // fall back to the conventional path
    }
    return createRemoteJWKSet(new URL(uri), { cooldownDuration: 1_000, [joseFetch]: this.#fetch });
  }
}
