import { CryptoProvider } from '@azure/msal-node';
import { z } from '@gatehouse/connector-kit';
import {
  callbackParams,
  ConnectorError,
  isConnectorError,
  keptStateSchema,
  pkceVerifierField,
  verifyCallbackState,
  withConnectorData,
} from '@gatehouse/connector-kit';
import type {
  CallbackConnector,
  CallbackRequest,
  ConnectorContext,
  ConnectorLogger,
  Identity,
  LoginRedirect,
  RefreshConnector,
  Scopes,
} from '@gatehouse/connector-kit';
import { CONSUMERS_TENANT_ID, GROUP_READ_SCOPES, isMultiTenant } from './config.ts';
import type { MicrosoftConfig } from './config.ts';
import { GraphClient, GraphError } from './graph.ts';
import type { GraphMe } from './graph.ts';
import { tenantKeys, verifyIdToken } from './id-token.ts';
import type { EntraClaims, KeySet } from './id-token.ts';
import { createMsal, describeAadsts, fetchTenantMetadata, mapMsalError, refreshTokenOf } from './msal.ts';
import type { TenantMetadata } from './msal.ts';

/** Per-login data the issuer keeps between `loginURL` and `handleCallback`. */
const keptSchema = keptStateSchema({
  nonce: z.string().min(1),
  codeVerifier: pkceVerifierField(),
  redirectURI: z.string().min(1),
});
type Kept = z.output<typeof keptSchema>;

/** What survives in `Identity.connectorData` (stored by the issuer, never shown to clients). */
const dataSchema = z.object({
  oid: z.string().min(1),
  tid: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
});
type ConnectorData = z.output<typeof dataSchema>;

const startAgain = 'This sign-in could not be completed; please start again.';

export class MicrosoftConnector implements CallbackConnector, RefreshConnector {
  readonly kind = 'callback' as const;
  private readonly config: MicrosoftConfig;
  private readonly log: ConnectorLogger;
  private readonly redirectURI: string;
  private readonly crypto = new CryptoProvider();
  private upstream: Promise<{ metadata: TenantMetadata; keys: KeySet }> | undefined;

  constructor(id: string, config: MicrosoftConfig, context: ConnectorContext) {
    this.config = config;
    this.log = context.logger.child({ connector: id, type: 'microsoft' });
    if (config.redirectURI !== undefined && config.redirectURI !== context.callbackURL) {
      throw new ConnectorError(
        'invalid_configuration',
        `redirectURI must be the issuer's callback URL ${context.callbackURL}`,
        {
          key: 'redirectURI',
        },
      );
    }
    this.redirectURI = context.callbackURL;
  }

  /** Discovery and keys, fetched once; a failed fetch is retried on the next login. */
  private tenant(): Promise<{ metadata: TenantMetadata; keys: KeySet }> {
    if (!this.upstream) {
      this.upstream = fetchTenantMetadata(this.config).then((metadata) => ({
        metadata,
        keys: tenantKeys(metadata.jwks_uri, this.config),
      }));
      this.upstream.catch(() => {
        this.upstream = undefined;
      });
    }
    return this.upstream;
  }

  /** Whether groups must be read: required by the config, or asked for by the client. */
  private groupsNeeded(scopes: Scopes): boolean {
    return this.config.groups.length > 0 || scopes.groups;
  }

  /** Graph scopes asked of Entra (msal adds openid, profile and offline_access itself). */
  private upstreamScopes(scopes: Scopes): string[] {
    const list = [...(this.config.scopes ?? ['User.Read'])];
    const lower = list.map((s) => s.toLowerCase());
    const usesDefault = lower.some((s) => s.endsWith('/.default'));
    if (this.groupsNeeded(scopes) && !usesDefault && !lower.some((s) => GROUP_READ_SCOPES.includes(s)))
      list.push('Directory.Read.All');
    return list;
  }

  async loginURL(scopes: Scopes, callbackURL: string, state: string): Promise<LoginRedirect> {
    if (callbackURL !== this.redirectURI) {
      throw new ConnectorError('invalid_configuration', `callback URL ${callbackURL} is not ${this.redirectURI}`, {
        key: 'redirectURI',
      });
    }
    const { metadata } = await this.tenant();
    const session = createMsal(this.config, metadata, this.log);
    const pkce = await this.crypto.generatePkceCodes();
    const nonce = this.crypto.createNewGuid();
    try {
      const url = await session.app.getAuthCodeUrl({
        scopes: this.upstreamScopes(scopes),
        redirectUri: this.redirectURI,
        codeChallenge: pkce.challenge,
        codeChallengeMethod: 'S256',
        state,
        nonce,
        responseMode: 'query',
        ...(this.config.promptType ? { prompt: this.config.promptType } : {}),
        ...(this.config.domainHint ? { domainHint: this.config.domainHint } : {}),
      });
      const keep: Kept = { state, nonce, codeVerifier: pkce.verifier, redirectURI: this.redirectURI };
      return { url, keep };
    } catch (error) {
      throw mapMsalError(error, session, false);
    }
  }

  async handleCallback(scopes: Scopes, kept: unknown, request: CallbackRequest): Promise<Identity> {
    const params = callbackParams(request);
    // The state is checked before anything else, and before the code is spent.
    const login = verifyCallbackState(keptSchema, kept, params, { missing: startAgain, mismatch: startAgain });
    const state = login.state;
    const upstreamError = params.get('error');
    if (upstreamError !== null) {
      const code = /AADSTS(\d+)/.exec(params.get('error_description') ?? '')?.[1];
      const mapped = describeAadsts(code === undefined ? undefined : Number(code), upstreamError.slice(0, 64));
      this.log.info({ error: upstreamError.slice(0, 64), aadsts: code }, 'Entra ID returned an error to the callback');
      throw new ConnectorError(
        mapped.code,
        `Entra ID answered ${upstreamError.slice(0, 64)}${code ? ` AADSTS${code}` : ''}`,
        {
          userMessage: mapped.userMessage,
        },
      );
    }
    const code = params.get('code');
    if (!code)
      throw new ConnectorError('upstream_error', 'callback carries neither a code nor an error', {
        userMessage: startAgain,
      });

    const { metadata, keys } = await this.tenant();
    const session = createMsal(this.config, metadata, this.log);
    let accessToken: string;
    let idToken: string;
    try {
      const result = await session.app.acquireTokenByCode(
        {
          code,
          scopes: this.upstreamScopes(scopes),
          redirectUri: login.redirectURI,
          codeVerifier: login.codeVerifier,
          state: login.state,
          nonce: login.nonce,
        },
        { code, state },
      );
      accessToken = result.accessToken;
      idToken = result.idToken;
    } catch (error) {
      const mapped = mapMsalError(error, session, false);
      this.log.warn({ code: mapped.code, reason: mapped.message }, 'Entra ID code redemption failed');
      throw mapped;
    }
    if (!accessToken || !idToken)
      throw new ConnectorError('upstream_error', 'Entra ID returned no access token or id_token');
    const claims = await verifyIdToken(idToken, this.config, keys, {
      nonce: login.nonce,
      tenantIssuer: metadata.issuer,
    });
    const refreshToken = scopes.offlineAccess ? await refreshTokenOf(session) : undefined;
    const identity = await this.buildIdentity(
      scopes,
      accessToken,
      claims,
      { oid: claims.oid, tid: claims.tid, ...(refreshToken ? { refreshToken } : {}) },
      false,
    );
    this.log.info({ userId: identity.userId, tid: claims.tid, groups: identity.groups?.length }, 'Entra ID login');
    return identity;
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    const parsed = dataSchema.safeParse(identity.connectorData);
    if (!parsed.success || !parsed.data.refreshToken) {
      throw new ConnectorError('refresh_failed', 'no upstream refresh token stored for this user');
    }
    const data = parsed.data;
    const { metadata, keys } = await this.tenant();
    const session = createMsal(this.config, metadata, this.log);
    let accessToken: string;
    let idToken: string;
    try {
      const result = await session.app.acquireTokenByRefreshToken({
        refreshToken: data.refreshToken as string,
        scopes: this.upstreamScopes(scopes),
        forceCache: true,
      });
      if (!result) throw new ConnectorError('refresh_failed', 'Entra ID returned no tokens for the refresh token');
      accessToken = result.accessToken;
      idToken = result.idToken;
    } catch (error) {
      const mapped = mapMsalError(error, session, true);
      this.log.info({ userId: identity.userId, code: mapped.code, reason: mapped.message }, 'Entra ID refresh failed');
      throw mapped;
    }
    const rotated = await refreshTokenOf(session);
    const nextData: ConnectorData = { ...data, ...(rotated ? { refreshToken: rotated } : {}) };
    // Entra rotated the refresh token: if a later step fails, the issuer must still store the new
    // one (the old one may already be spent, and the new one outlives it).
    const keep = (error: unknown): unknown =>
      rotated !== undefined && rotated !== data.refreshToken ? withConnectorData(error, nextData) : error;
    let claims: EntraClaims | undefined;
    if (idToken) {
      try {
        claims = await verifyIdToken(idToken, this.config, keys, { tenantIssuer: metadata.issuer });
      } catch (error) {
        throw keep(error);
      }
      // Not kept: these tokens belong to someone else.
      if (claims.oid !== data.oid || claims.tid !== data.tid)
        throw new ConnectorError('refresh_failed', 'Entra ID refreshed a different user');
    }
    let next: Identity;
    try {
      next = await this.buildIdentity(scopes, accessToken, claims, nextData, true);
    } catch (error) {
      throw keep(error);
    }
    if (next.userId !== identity.userId)
      throw new ConnectorError('refresh_failed', 'Microsoft Graph returned a different user');
    return next;
  }

  /** Reads the user (and groups) from Graph and applies the config's mapping and group rules. */
  private async buildIdentity(
    scopes: Scopes,
    accessToken: string,
    claims: EntraClaims | undefined,
    data: ConnectorData,
    refreshing: boolean,
  ): Promise<Identity> {
    const graph = new GraphClient(this.config, accessToken, this.log);
    let me: GraphMe;
    try {
      me = await graph.me();
    } catch (error) {
      throw this.graphFailure(error, refreshing, 'read your profile');
    }
    if (me.id !== data.oid) throw new ConnectorError('upstream_error', 'Microsoft Graph /me is not the signed-in user');

    const groups = await this.resolveGroups(graph, scopes, data.tid, refreshing);
    let email = me.mail ?? me.userPrincipalName ?? claims?.email ?? undefined;
    if (email !== undefined && this.config.emailToLowercase) email = email.toLowerCase();
    const multi = isMultiTenant(this.config);
    // In a multi-tenant app any tenant admin sets `mail` to anything: only an owner-verified domain counts.
    const emailVerified =
      email !== undefined &&
      (!multi || claims?.xms_edov === true || claims?.xms_edov === '1' || claims?.xms_edov === 'true');
    const preferred = this.preferredUsername(me, email, claims);
    return {
      userId: data.oid,
      username: me.displayName ?? me.userPrincipalName ?? data.oid,
      ...(preferred !== undefined ? { preferredUsername: preferred } : {}),
      ...(email !== undefined ? { email, emailVerified } : {}),
      ...(groups !== undefined ? { groups } : {}),
      connectorData: data,
    };
  }

  private preferredUsername(
    me: GraphMe,
    email: string | undefined,
    claims: EntraClaims | undefined,
  ): string | undefined {
    switch (this.config.preferredUsernameField) {
      case 'name':
        return me.displayName ?? undefined;
      case 'email':
        return email;
      case 'mailNickname':
        return me.mailNickname ?? undefined;
      case 'onPremisesSamAccountName':
        return me.onPremisesSamAccountName ?? undefined;
      default:
        return claims?.preferred_username ?? me.userPrincipalName ?? undefined;
    }
  }

  /**
   * Groups per Dex's rules, but enforced in every tenant mode: with `groups` configured the user
   * must be in one of them (fail closed), and `useGroupsAsWhitelist` returns only those.
   */
  private async resolveGroups(
    graph: GraphClient,
    scopes: Scopes,
    tid: string,
    refreshing: boolean,
  ): Promise<string[] | undefined> {
    if (!this.groupsNeeded(scopes)) return undefined;
    const required = this.config.groups;
    let values: string[] = [];
    if (tid.toLowerCase() !== CONSUMERS_TENANT_ID) {
      let ids: string[];
      try {
        ids = await graph.memberGroupIds(this.config.onlySecurityGroups);
        if (this.config.groupNameFormat === 'id') {
          values = ids;
        } else {
          const names = await graph.groupNames(ids);
          values = ids.map((id) => names.get(id)).filter((n): n is string => n !== undefined);
        }
      } catch (error) {
        throw this.graphFailure(error, refreshing, 'read your groups');
      }
    }
    if (required.length === 0) return scopes.groups ? values : undefined;
    const matching = values.filter((g) => required.includes(g));
    if (matching.length === 0) {
      throw new ConnectorError('not_in_required_groups', 'user is in none of the required groups', {
        userMessage: 'You are not a member of a group that may sign in here.',
      });
    }
    if (!scopes.groups) return undefined;
    return this.config.useGroupsAsWhitelist ? matching : values;
  }

  private graphFailure(error: unknown, refreshing: boolean, doing: string): ConnectorError {
    if (isConnectorError(error)) return error;
    if (error instanceof GraphError) {
      if (refreshing && (error.status === 404 || error.status === 401)) {
        return new ConnectorError('refresh_failed', `${error.message}: the user is gone or the token was revoked`);
      }
      if (error.status === 403) {
        return new ConnectorError('upstream_error', error.message, {
          userMessage: `Gatehouse is not permitted to ${doing} in Microsoft Graph. Tell the administrator (Directory.Read.All consent).`,
        });
      }
      return new ConnectorError('upstream_error', error.message, {
        userMessage: `Microsoft Graph could not ${doing}.`,
      });
    }
    return new ConnectorError('upstream_error', `Microsoft Graph: ${String(error)}`);
  }
}
