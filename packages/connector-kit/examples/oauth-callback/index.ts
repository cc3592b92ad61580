/**
 * Example callback connector: a plain OAuth 2.0 authorization-code upstream with PKCE
 * (`GET {url}/authorize`, `POST {url}/token`, `GET {url}/userinfo` answering
 * `{sub, preferred_username, name?, email?, email_verified?, groups?}`), with refresh through
 * the upstream's rotating refresh tokens.
 *
 * What the kit does for it: PKCE pairs (`createPkce`), the per-login data and the constant-time
 * state check before anything else (`keptStateSchema`, `verifyCallbackState`), bounded HTTP
 * (`HttpClient`: timeouts, body cap, no retry of the token POST) and status mapping
 * (`statusError`). What is left is the upstream's own protocol, which is what an `oidc` or
 * `gitlab` connector would add.
 */
import {
  callbackParams,
  ConnectorError,
  createPkce,
  defineConnector,
  HttpClient,
  httpsURL,
  keptStateSchema,
  oauthErrorCode,
  parseJSONObject,
  pkceVerifierField,
  requiredString,
  statusError,
  verifyCallbackState,
  withConnectorData,
  z,
} from '@gatehouse/connector-kit';
import type {
  CallbackConnector,
  Connector,
  HttpResponse,
  Identity,
  RefreshConnector,
  Scopes,
} from '@gatehouse/connector-kit';

export const configSchema = z
  .object({
    /** Base URL of the upstream. */
    url: httpsURL(),
    clientID: requiredString('clientID'),
    clientSecret: requiredString('clientSecret'),
    /** Upstream scopes asked for; `groups` is added when the client wants groups. */
    scopes: z.array(z.string().min(1)).default(['profile', 'email']),
    /** Per-request timeout. */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .strict();

export type OAuthCallbackConfig = z.output<typeof configSchema>;

const UPSTREAM = 'The sign-in service';

/** Kept by the issuer between `loginURL` and `handleCallback`. */
const keptSchema = keptStateSchema({ codeVerifier: pkceVerifierField(), redirectURI: z.string().min(1) });

/** Stored with an offline session. */
const connectorDataSchema = z.object({ refreshToken: z.string().min(1) });

const tokenSchema = z.looseObject({ access_token: z.string().min(1), refresh_token: z.string().min(1).optional() });
const userSchema = z.looseObject({
  sub: z.string().min(1),
  preferred_username: z.string().min(1),
  name: z.string().optional(),
  email: z.string().optional(),
  email_verified: z.boolean().optional(),
  groups: z.array(z.string()).optional(),
});

type Tokens = z.output<typeof tokenSchema>;

function toIdentity(user: z.output<typeof userSchema>, scopes: Scopes): Identity {
  return {
    userId: user.sub,
    username: user.name ?? user.preferred_username,
    preferredUsername: user.preferred_username,
    ...(user.email !== undefined ? { email: user.email, emailVerified: user.email_verified === true } : {}),
    ...(scopes.groups ? { groups: user.groups ?? [] } : {}),
  };
}

export const factory = defineConnector({
  type: 'example-oauth-callback',
  configSchema,
  open(id, config, context): CallbackConnector & RefreshConnector & Pick<Connector, 'close'> {
    const log = context.logger.child({ connector: id });
    const http = new HttpClient({
      upstream: UPSTREAM,
      timeoutMs: config.timeoutMs,
      headers: { accept: 'application/json' },
      logger: log,
    });

    /** POST /token. Never sent twice (the kit retries only idempotent requests): a code is single-use. */
    const token = async (grant: Record<string, string>, refreshing: boolean): Promise<Tokens> => {
      const what = 'POST /token';
      const response = await http.send({
        method: 'POST',
        url: `${config.url}/token`,
        what,
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(config.clientID)}:${encodeURIComponent(config.clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(grant).toString(),
      });
      const body = answer(response, what);
      if (response.status === 400 && body.error === 'invalid_grant') {
        // The code was spent or its PKCE verifier is wrong; on refresh the token was revoked.
        throw refreshing
          ? new ConnectorError('refresh_failed', 'the upstream refused the refresh token')
          : new ConnectorError('invalid_state', 'the upstream refused the code', {
              userMessage: 'This sign-in has expired. Please start again.',
            });
      }
      if (response.status !== 200)
        throw new ConnectorError('upstream_error', `${what} answered HTTP ${response.status}`);
      const parsed = tokenSchema.safeParse(body);
      if (!parsed.success) throw new ConnectorError('upstream_error', `${what}: no access_token`);
      return parsed.data;
    };

    const userinfo = async (accessToken: string, refreshing: boolean): Promise<z.output<typeof userSchema>> => {
      const what = 'GET /userinfo';
      const response = await http.send({
        method: 'GET',
        url: `${config.url}/userinfo`,
        what,
        headers: { authorization: `Bearer ${accessToken}` },
      });
      const body = answer(response, what);
      if (response.status === 401 && refreshing)
        throw new ConnectorError('refresh_failed', 'the upstream no longer knows the user');
      const parsed = userSchema.safeParse(body);
      if (response.status !== 200 || !parsed.success)
        throw new ConnectorError('upstream_error', `${what}: HTTP ${response.status} or an unexpected user`);
      return parsed.data;
    };

    return {
      kind: 'callback',
      async loginURL(scopes, callbackURL, state) {
        const pkce = createPkce();
        const url = new URL(`${config.url}/authorize`);
        url.search = new URLSearchParams({
          response_type: 'code',
          client_id: config.clientID,
          redirect_uri: callbackURL,
          scope: [
            ...config.scopes,
            ...(scopes.groups ? ['groups'] : []),
            ...(scopes.offlineAccess ? ['offline_access'] : []),
          ].join(' '),
          state,
          code_challenge: pkce.challenge,
          code_challenge_method: pkce.method,
        }).toString();
        const keep: z.output<typeof keptSchema> = { state, codeVerifier: pkce.verifier, redirectURI: callbackURL };
        return { url: url.href, keep };
      },

      async handleCallback(scopes, kept, request) {
        const params = callbackParams(request);
        // First, so a callback of another login never spends its code.
        const login = verifyCallbackState(keptSchema, kept, params);
        const error = params.get('error');
        if (error !== null) {
          const code = oauthErrorCode(error);
          throw new ConnectorError(
            code === 'access_denied' ? 'access_denied' : 'upstream_error',
            `the upstream answered ${code}`,
            {
              userMessage:
                code === 'access_denied'
                  ? 'The sign-in was declined.'
                  : `The sign-in service refused the sign-in (${code}).`,
            },
          );
        }
        const code = params.get('code');
        if (!code) throw new ConnectorError('invalid_state', 'callback without a code');
        const tokens = await token(
          {
            grant_type: 'authorization_code',
            code,
            redirect_uri: login.redirectURI,
            code_verifier: login.codeVerifier,
          },
          false,
        );
        const identity = toIdentity(await userinfo(tokens.access_token, false), scopes);
        if (scopes.offlineAccess && tokens.refresh_token !== undefined)
          identity.connectorData = { refreshToken: tokens.refresh_token };
        log.info({ userId: identity.userId }, 'login');
        return identity;
      },

      async refresh(scopes, identity) {
        const data = connectorDataSchema.safeParse(identity.connectorData);
        if (!data.success) throw new ConnectorError('refresh_failed', 'no refresh token stored');
        const tokens = await token({ grant_type: 'refresh_token', refresh_token: data.data.refreshToken }, true);
        // The upstream rotates refresh tokens: once swapped, the new one must be stored even if a later step fails.
        const next = { refreshToken: tokens.refresh_token ?? data.data.refreshToken };
        try {
          const fresh = toIdentity(await userinfo(tokens.access_token, true), scopes);
          if (fresh.userId !== identity.userId)
            throw new ConnectorError('refresh_failed', 'the upstream refreshed another user');
          return { ...fresh, connectorData: next };
        } catch (error) {
          throw withConnectorData(error, next);
        }
      },

      close: () => http.close(),
    };
  },
});

/** A JSON object answer; 429 and 5xx first become `upstream_unavailable`/`upstream_error` (with `Retry-After`). */
function answer(response: HttpResponse, what: string): Record<string, unknown> {
  if (response.status === 429 || response.status >= 500)
    throw statusError({ upstream: UPSTREAM, what }, response.status, response.headers.get('retry-after'));
  return parseJSONObject({ upstream: UPSTREAM, what }, response.text);
}

export default factory;
