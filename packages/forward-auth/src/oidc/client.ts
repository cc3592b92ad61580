// The relying party: discovery, authorization URL, code redemption, refresh and logout through openid-client
// (a certified RP library); id_token and bearer signatures verified with jose against the issuer's JWKS.
import * as oidc from 'openid-client';
import { createRemoteJWKSet, customFetch as joseFetch, jwtVerify, type JWTPayload } from 'jose';
import type { ForwardAuthConfig } from '../config/schema.ts';

export type FetchLike = typeof fetch;

export const IssuerErrorCode = {
  Unreachable: 'issuer_unreachable',
  Rejected: 'issuer_rejected',
  InvalidGrant: 'invalid_grant',
  InvalidToken: 'invalid_token',
} as const;
export type IssuerErrorCode = (typeof IssuerErrorCode)[keyof typeof IssuerErrorCode];

/** A failure talking to the issuer or verifying what it returned; `code` drives the HTTP answer. */
export class IssuerError extends Error {
  readonly code: IssuerErrorCode;
  readonly oauthError: string | undefined;
  constructor(code: IssuerErrorCode, message: string, oauthError?: string) {
    super(message);
    this.name = 'IssuerError';
    this.code = code;
    this.oauthError = oauthError;
  }
}

export interface Tokens {
  readonly idToken: string | undefined;
  readonly accessToken: string | undefined;
  readonly refreshToken: string | undefined;
  /** Verified id_token claims (signature, issuer, audience, expiry, nonce when expected). */
  readonly claims: JWTPayload | undefined;
}

export interface AuthorizationChecks {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

const JWKS_COOLDOWN_MS = 1_000;
const TIMEOUT_S = 10;

export class OidcClient {
  readonly #cfg: ForwardAuthConfig;
  readonly #fetch: FetchLike | undefined;
  #discovery: Promise<oidc.Configuration> | undefined;
  #config: oidc.Configuration | undefined;
  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(cfg: ForwardAuthConfig, fetchImpl?: FetchLike) {
    this.#cfg = cfg;
    this.#fetch = fetchImpl;
  }

  /** Discovery, memoised on success and retried on the next call after a failure. */
  discover(): Promise<oidc.Configuration> {
    this.#discovery ??= this.#runDiscovery().catch((err: unknown) => {
      this.#discovery = undefined;
      throw err;
    });
    return this.#discovery;
  }

  get discovered(): oidc.Configuration | undefined {
    return this.#config;
  }

  async #runDiscovery(): Promise<oidc.Configuration> {
    const c = this.#cfg;
    const auth = c.client_secret === undefined ? oidc.None() : oidc.ClientSecretBasic(c.client_secret);
    const insecure = new URL(c.oidc_issuer_url).protocol === 'http:';
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(
        new URL(c.oidc_issuer_url),
        c.client_id,
        { redirect_uris: [c.redirect_url] },
        auth,
        {
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
          ...(this.#fetch === undefined ? {} : { [oidc.customFetch]: this.#fetch }),
          timeout: TIMEOUT_S,
        },
      );
    } catch (err) {
      throw new IssuerError(
        IssuerErrorCode.Unreachable,
        `discovery of ${c.oidc_issuer_url} failed: ${(err as Error).message}`,
      );
    }
    if (this.#fetch !== undefined) config[oidc.customFetch] = this.#fetch;
    config.timeout = TIMEOUT_S;
    const jwksUri = config.serverMetadata().jwks_uri;
    if (jwksUri === undefined) throw new IssuerError(IssuerErrorCode.Rejected, 'issuer metadata has no jwks_uri');
    this.#jwks = createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: JWKS_COOLDOWN_MS,
      ...(this.#fetch === undefined ? {} : { [joseFetch]: this.#fetch }),
    });
    this.#config = config;
    return config;
  }

  async authorizationURL(checks: AuthorizationChecks): Promise<URL> {
    const config = await this.discover();
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.#cfg.redirect_url,
      response_type: 'code',
      scope: this.scope(),
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /** Scopes requested: the configured ones, plus `groups` when allowed_groups is set (as oauth2-proxy does). */
  scope(): string {
    const scopes = this.#cfg.scope.split(/\s+/).filter((s) => s !== '');
    if (this.#cfg.allowed_groups.length > 0 && !scopes.includes('groups')) scopes.push('groups');
    return scopes.join(' ');
  }

  /**
   * Redeems the code of a callback whose state the caller has already matched against its CSRF cookie.
   * openid-client re-checks state, issuer (`iss`), PKCE and nonce; jose checks the signature.
   */
  async redeem(callbackQuery: URLSearchParams, checks: AuthorizationChecks): Promise<Tokens> {
    const config = await this.discover();
    const current = new URL(this.#cfg.redirect_url);
    current.search = callbackQuery.toString();
    let res: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      res = await oidc.authorizationCodeGrant(config, current, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
    } catch (err) {
      throw toIssuerError(err);
    }
    if (res.id_token === undefined)
      throw new IssuerError(IssuerErrorCode.InvalidToken, 'no id_token in the token response');
    const claims = await this.verifyIdToken(res.id_token, checks.nonce);
    return { idToken: res.id_token, accessToken: res.access_token, refreshToken: res.refresh_token, claims };
  }

  async refresh(refreshToken: string): Promise<Tokens> {
    const config = await this.discover();
    let res: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      res = await oidc.refreshTokenGrant(config, refreshToken);
    } catch (err) {
      throw toIssuerError(err);
    }
    const claims = res.id_token === undefined ? undefined : await this.verifyIdToken(res.id_token);
    return { idToken: res.id_token, accessToken: res.access_token, refreshToken: res.refresh_token, claims };
  }

  /** Signature (issuer JWKS, refetched on an unknown kid), issuer, audience = client_id, expiry, nonce. */
  async verifyIdToken(idToken: string, nonce?: string): Promise<JWTPayload> {
    return this.verifyJWT(idToken, [this.#cfg.client_id], nonce);
  }

  /** A bearer JWT from our issuer for client_id or one of oidc_extra_audiences. */
  async verifyJWT(token: string, audiences: readonly string[], nonce?: string): Promise<JWTPayload> {
    await this.discover();
    const jwks = this.#jwks as ReturnType<typeof createRemoteJWKSet>;
    const options = {
      issuer: this.#config?.serverMetadata().issuer ?? this.#cfg.oidc_issuer_url,
      audience: [...audiences],
      clockTolerance: 30,
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, options).catch(async (err: unknown) => {
        // A kid we have not seen right after a fetch (key rotation): jose refetches once its cooldown is over.
        if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !jwks.coolingDown) throw err;
        await new Promise((r) => setTimeout(r, JWKS_COOLDOWN_MS));
        return jwtVerify(token, jwks, options);
      }));
    } catch (err) {
      throw new IssuerError(IssuerErrorCode.InvalidToken, `token rejected: ${(err as Error).message}`);
    }
    if (nonce !== undefined && payload.nonce !== nonce)
      throw new IssuerError(IssuerErrorCode.InvalidToken, 'nonce mismatch');
    return payload;
  }

  /**
   * RFC 7009 revocation at the issuer's revocation_endpoint, authenticated as this client. False when the
   * issuer advertises no revocation_endpoint; throws IssuerError when the issuer refuses or cannot be reached.
   */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
    const config = await this.discover();
    if (config.serverMetadata().revocation_endpoint === undefined) return false;
    try {
      await oidc.tokenRevocation(config, token, { token_type_hint: hint });
    } catch (err) {
      throw toIssuerError(err);
    }
    return true;
  }

  /** The issuer's end_session URL, or undefined when it advertises none. */
  endSessionURL(
    idTokenHint: string | undefined,
    postLogoutRedirect: string | undefined,
    state?: string,
  ): URL | undefined {
    const config = this.#config;
    if (config?.serverMetadata().end_session_endpoint === undefined) return undefined;
    const params: Record<string, string> = { client_id: this.#cfg.client_id };
    if (idTokenHint !== undefined) params.id_token_hint = idTokenHint;
    if (postLogoutRedirect !== undefined) params.post_logout_redirect_uri = postLogoutRedirect;
    if (state !== undefined) params.state = state;
    return oidc.buildEndSessionUrl(config, params);
  }
}

function toIssuerError(err: unknown): IssuerError {
  if (err instanceof IssuerError) return err;
  if (err instanceof oidc.ResponseBodyError) {
    const code = err.error === 'invalid_grant' ? IssuerErrorCode.InvalidGrant : IssuerErrorCode.Rejected;
    return new IssuerError(code, `issuer answered ${err.status} ${err.error}`, err.error);
  }
  if (err instanceof oidc.AuthorizationResponseError) {
    return new IssuerError(IssuerErrorCode.Rejected, `authorization error ${err.error}`, err.error);
  }
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'TypeError' || e.name === 'AbortError' || e.name === 'TimeoutError') {
    return new IssuerError(IssuerErrorCode.Unreachable, `issuer unreachable: ${e.message ?? 'error'}`);
  }
  return new IssuerError(
    IssuerErrorCode.InvalidToken,
    `issuer response rejected: ${e.code ?? ''} ${e.message ?? ''}`.trim(),
  );
}
