import {
  ConnectorError,
  createPkce,
  isConnectorError,
  keptStateSchema,
  oauthErrorCode,
  pkceVerifierField,
  verifyCallbackState,
  withConnectorData,
} from '@gatehouse/connector-kit';
import type {
  CallbackConnector,
  CallbackRequest,
  ConnectorErrorCode,
  ConnectorLogger,
  Identity,
  LoginRedirect,
  RefreshConnector,
  Scopes,
} from '@gatehouse/connector-kit';
import { z } from '@gatehouse/connector-kit';
import { GitHubApi } from './api.ts';
import type { GitHubConfig, GitHubEndpoints } from './config.ts';
import { pickEmail } from './email.ts';
import { orgRules, resolveGroups } from './groups.ts';
import type { GitHubHttp } from './http.ts';
import { authorizeURL, exchangeToken } from './oauth.ts';
import type { GitHubTokens } from './oauth.ts';

/** What the issuer keeps between `loginURL` and `handleCallback`. */
const keptSchema = keptStateSchema({ codeVerifier: pkceVerifierField(), redirectURI: z.string().min(1) });
type Kept = z.output<typeof keptSchema>;

/** What the issuer stores with an offline session: the user's GitHub token(s). */
const connectorDataSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  expiresAt: z.number().optional(),
});
type ConnectorData = z.output<typeof connectorDataSchema>;

/** Renew a GitHub App user token this long before it expires. */
const EXPIRY_MARGIN_MS = 60_000;

export interface GitHubConnectorOptions {
  id: string;
  config: GitHubConfig;
  endpoints: GitHubEndpoints;
  http: GitHubHttp;
  logger: ConnectorLogger;
}

export class GitHubConnector implements CallbackConnector, RefreshConnector {
  readonly kind = 'callback' as const;
  readonly #config: GitHubConfig;
  readonly #endpoints: GitHubEndpoints;
  readonly #http: GitHubHttp;
  readonly #logger: ConnectorLogger;

  constructor(options: GitHubConnectorOptions) {
    this.#config = options.config;
    this.#endpoints = options.endpoints;
    this.#http = options.http;
    this.#logger = options.logger;
  }

  /** `user:email` always; `read:org` when organisations gate login or groups are wanted. */
  upstreamScopes(scopes: Scopes): string[] {
    const needOrgs = orgRules(this.#config) !== undefined || scopes.groups;
    return needOrgs ? ['user:email', 'read:org'] : ['user:email'];
  }

  async loginURL(scopes: Scopes, callbackURL: string, state: string): Promise<LoginRedirect> {
    if (state === '') throw new ConnectorError('invalid_state', 'empty state');
    const redirectURI = this.#config.redirectURI ?? callbackURL;
    if (redirectURI !== callbackURL) {
      throw new ConnectorError(
        'invalid_configuration',
        `redirectURI ${redirectURI} must equal the issuer callback ${callbackURL}`,
        {
          key: 'redirectURI',
          userMessage: 'This sign-in method is misconfigured. Please tell your administrator.',
        },
      );
    }
    const pkce = createPkce();
    const url = authorizeURL(this.#endpoints.oauth, {
      clientID: this.#config.clientID,
      redirectURI,
      scopes: this.upstreamScopes(scopes),
      state,
      codeChallenge: pkce.challenge,
    });
    const keep: Kept = { state, codeVerifier: pkce.verifier, redirectURI };
    return { url, keep };
  }

  async handleCallback(scopes: Scopes, kept: unknown, request: CallbackRequest): Promise<Identity> {
    const q = request.url.searchParams;
    // Checked before anything else, so a foreign callback never spends its code.
    const k = verifyCallbackState(keptSchema, kept, q, {
      mismatch: 'This sign-in response does not belong to your sign-in. Please start again.',
    });
    const error = q.get('error');
    if (error !== null) throw this.#authorizeError(error, q.get('error_description'));
    const code = q.get('code');
    if (code === null || code === '') {
      throw new ConnectorError('invalid_state', 'callback without an authorization code', {
        userMessage: 'GitHub did not complete the sign-in. Please start again.',
      });
    }
    const tokens = await exchangeToken(
      this.#http,
      this.#endpoints.oauth,
      {
        clientID: this.#config.clientID,
        clientSecret: this.#config.clientSecret,
        grant: { code, redirectURI: k.redirectURI, codeVerifier: k.codeVerifier },
      },
      this.#logger,
    );
    this.#checkGrantedScopes(scopes, tokens);
    const identity = await this.#identity(scopes, tokens.accessToken, 'login');
    if (scopes.offlineAccess) identity.connectorData = connectorData(tokens);
    return identity;
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    const parsed = connectorDataSchema.safeParse(identity.connectorData);
    if (!parsed.success) {
      throw new ConnectorError('refresh_failed', 'no GitHub token stored for this session', {
        userMessage: 'Please sign in with GitHub again.',
      });
    }
    let data = parsed.data;
    let rotated = false;
    if (data.expiresAt !== undefined && data.expiresAt - EXPIRY_MARGIN_MS <= Date.now()) {
      if (data.refreshToken === undefined) {
        throw new ConnectorError('refresh_failed', 'GitHub token expired and no refresh token is stored', {
          userMessage: 'Your GitHub sign-in has expired. Please sign in again.',
        });
      }
      const tokens = await exchangeToken(
        this.#http,
        this.#endpoints.oauth,
        {
          clientID: this.#config.clientID,
          clientSecret: this.#config.clientSecret,
          grant: { refreshToken: data.refreshToken },
        },
        this.#logger,
      );
      data = connectorData(tokens);
      rotated = true;
    }
    let fresh: Identity;
    try {
      fresh = await this.#identity(scopes, data.accessToken, 'refresh');
    } catch (error) {
      // GitHub refresh tokens are single-use: the stored one is spent now, so a failure after the
      // swap must still hand the new pair to the issuer, or the session could never refresh again.
      throw rotated ? withConnectorData(error, data) : error;
    }
    if (fresh.userId !== identity.userId) {
      throw new ConnectorError('refresh_failed', 'the GitHub token now belongs to another user', {
        userMessage: 'Please sign in with GitHub again.',
      });
    }
    fresh.connectorData = data;
    return fresh;
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  async #identity(scopes: Scopes, accessToken: string, mode: 'login' | 'refresh'): Promise<Identity> {
    const failCode: ConnectorErrorCode = mode === 'login' ? 'upstream_error' : 'refresh_failed';
    const api = new GitHubApi(this.#http, this.#endpoints.api, accessToken, failCode, this.#logger);
    const user = await api.user();
    const email = pickEmail(await api.emails(), this.#config.preferredEmailDomain, this.#endpoints.enterprise);
    if (email === undefined) {
      this.#logger.info({ githubUser: user.login }, 'github user has no verified email');
      throw new ConnectorError(
        mode === 'login' ? 'access_denied' : 'refresh_failed',
        `GitHub user ${user.login} has no verified email address`,
        {
          userMessage: 'Your GitHub account has no verified email address. Verify one on GitHub, then sign in again.',
        },
      );
    }
    let groups: string[] | undefined;
    try {
      groups = await resolveGroups(api, user.login, this.#config, scopes.groups);
    } catch (error) {
      if (mode === 'refresh' && isConnectorError(error) && error.code === 'not_in_required_groups') {
        throw new ConnectorError('refresh_failed', error.message, {
          userMessage: 'Your GitHub account is no longer in an organisation or team that may sign in here.',
          cause: error,
        });
      }
      throw error;
    }
    const identity: Identity = {
      userId: this.#config.useLoginAsID ? user.login : String(user.id),
      username: user.name ? user.name : user.login,
      preferredUsername: user.login,
      email,
      emailVerified: true,
    };
    if (groups !== undefined && scopes.groups) identity.groups = groups;
    return identity;
  }

  #authorizeError(error: string, description: string | null): ConnectorError {
    const safe = oauthErrorCode(error);
    if (safe === 'access_denied') {
      return new ConnectorError('access_denied', 'the user declined the GitHub authorization', {
        userMessage: 'You did not authorize this application on GitHub.',
      });
    }
    return new ConnectorError(
      'upstream_error',
      `GitHub authorization failed: ${safe}${description ? ` (${description.slice(0, 200)})` : ''}`,
      {
        userMessage: 'GitHub could not complete the sign-in. Please tell your administrator.',
      },
    );
  }

  /** A user can grant fewer scopes than asked; without `read:org` membership checks would all say "no". */
  #checkGrantedScopes(scopes: Scopes, tokens: GitHubTokens): void {
    if (tokens.scopes.length === 0) return; // GitHub Apps report no scopes: permissions apply instead.
    const missing = this.upstreamScopes(scopes).filter(
      (s) => !tokens.scopes.includes(s) && !impliedBy(s, tokens.scopes),
    );
    if (missing.length > 0) {
      throw new ConnectorError('access_denied', `GitHub granted scopes without ${missing.join(', ')}`, {
        userMessage: `The GitHub authorization lacks the ${missing.join(', ')} permission this sign-in needs.`,
      });
    }
  }
}

/** GitHub scope hierarchy: `user` includes `user:email`; `admin:org` and `write:org` include `read:org`. */
function impliedBy(scope: string, granted: string[]): boolean {
  if (scope === 'user:email') return granted.includes('user');
  if (scope === 'read:org') return granted.includes('write:org') || granted.includes('admin:org');
  return false;
}

function connectorData(tokens: GitHubTokens): ConnectorData {
  return {
    accessToken: tokens.accessToken,
    ...(tokens.refreshToken !== undefined ? { refreshToken: tokens.refreshToken } : {}),
    ...(tokens.expiresAt !== undefined ? { expiresAt: tokens.expiresAt } : {}),
  };
}
