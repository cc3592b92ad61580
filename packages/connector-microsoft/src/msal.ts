import { AuthError, ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { z } from '@gatehouse/connector-kit';
import { ConnectorError, isConnectorError } from '@gatehouse/connector-kit';
import type { ConnectorErrorCode, ConnectorLogger } from '@gatehouse/connector-kit';
import type { MicrosoftConfig } from './config.ts';
import { httpRequest, parseJSONObject, statusError } from './http.ts';

/** What the connector needs from the tenant's OpenID configuration. */
const metadataSchema = z.object({
  issuer: z.string().min(1),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  end_session_endpoint: z.string().url().optional(),
});
export type TenantMetadata = z.output<typeof metadataSchema>;

/** Fetches `{apiURL}/{tenant}/v2.0/.well-known/openid-configuration`; endpoints must stay on apiURL's origin. */
export async function fetchTenantMetadata(config: MicrosoftConfig): Promise<TenantMetadata> {
  const url = `${config.apiURL}/${config.tenant}/v2.0/.well-known/openid-configuration`;
  const what = 'Entra ID discovery';
  const response = await httpRequest(url, { method: 'GET', timeoutMs: config.timeoutSeconds * 1000, what });
  if (response.status !== 200) throw statusError(what, response.status, response.headers);
  const parsed = metadataSchema.safeParse(parseJSONObject(what, response.text));
  if (!parsed.success) throw new ConnectorError('upstream_error', `${what}: unexpected document`);
  const origin = new URL(config.apiURL).origin;
  for (const endpoint of [parsed.data.authorization_endpoint, parsed.data.token_endpoint, parsed.data.jwks_uri]) {
    if (new URL(endpoint).origin !== origin) {
      throw new ConnectorError('upstream_error', `${what}: endpoint ${endpoint} is not on ${origin}`);
    }
  }
  return parsed.data;
}

/**
 * msal's transport: bounded requests through `httpRequest`. msal replaces any non-msal error
 * thrown here by a bare `network_error`, so the precise ConnectorError is kept in `failure`.
 */
class BoundedNetworkClient implements INetworkModule {
  failure: ConnectorError | undefined;
  private readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    const what = 'Entra ID token endpoint';
    try {
      const response = await httpRequest(url, {
        method,
        headers: options?.headers ?? {},
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        timeoutMs: this.timeoutMs,
        what,
        // A token POST carries a code or refresh token: sent twice, the second is refused as spent.
        idempotent: method === 'GET',
      });
      if (response.status === 429 || response.status >= 500) throw statusError(what, response.status, response.headers);
      // 4xx answers carry an OAuth error object that msal turns into a ServerError.
      return { headers: response.headers, status: response.status, body: parseJSONObject(what, response.text) as T };
    } catch (error) {
      this.failure = isConnectorError(error)
        ? error
        : new ConnectorError('upstream_error', `${what}: ${String(error)}`);
      throw new Error(this.failure.message, { cause: error });
    }
  }
}

export interface MsalSession {
  app: ConfidentialClientApplication;
  network: BoundedNetworkClient;
}

/**
 * One msal application per operation: its in-memory token cache then holds exactly this user's
 * tokens, which is how the refresh token (not in msal's results) is read back.
 */
export function createMsal(config: MicrosoftConfig, metadata: TenantMetadata, logger: ConnectorLogger): MsalSession {
  const network = new BoundedNetworkClient(config.timeoutSeconds * 1000);
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: config.clientID,
      clientSecret: config.clientSecret,
      authority: `${config.apiURL}/${config.tenant}`,
      // Trust our own discovery result: no instance discovery call to login.microsoftonline.com.
      knownAuthorities: [new URL(config.apiURL).host],
      authorityMetadata: JSON.stringify(metadata),
    },
    system: {
      networkClient: network,
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (level, message) => {
          if (level <= LogLevel.Warning) logger.debug({ msal: message.slice(0, 300) }, 'msal');
        },
      },
    },
  });
  return { app, network };
}

/** The refresh token msal stored for this session, if any. */
export async function refreshTokenOf(session: MsalSession): Promise<string | undefined> {
  const cache = JSON.parse(session.app.getTokenCache().serialize()) as {
    RefreshToken?: Record<string, { secret?: string }>;
  };
  const entry = Object.values(cache.RefreshToken ?? {})[0];
  return typeof entry?.secret === 'string' && entry.secret !== '' ? entry.secret : undefined;
}

function aadsts(error: AuthError): number | undefined {
  const fromNo = Number((error as AuthError & { errorNo?: string | number }).errorNo);
  if (Number.isInteger(fromNo) && fromNo > 0) return fromNo;
  const m = /AADSTS(\d+)/.exec(error.errorMessage ?? error.message);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** User-facing text for an AADSTS code; never the upstream's own description (it may be attacker-supplied). */
export function describeAadsts(
  code: number | undefined,
  error: string,
): { code: ConnectorErrorCode; userMessage: string } {
  // `error` may come from a forged callback URL: only a plain OAuth error token is echoed.
  const tag = code !== undefined ? `AADSTS${code}` : /^[a-z_]{1,40}$/.test(error) ? error : 'unknown error';
  switch (code) {
    case 50105:
      return {
        code: 'access_denied',
        userMessage: `Your account is not assigned to this application. Ask an administrator for access. (${tag})`,
      };
    case 65001:
    case 65004:
    case 90094:
      return {
        code: 'access_denied',
        userMessage: `The application needs consent that has not been given. Ask an administrator to grant consent. (${tag})`,
      };
    case 700016:
    case 7000215:
    case 7000218:
    case 50011:
    case 90002:
      return {
        code: 'upstream_error',
        userMessage: `Microsoft sign-in is misconfigured for this site. Tell the administrator. (${tag})`,
      };
    case 50053:
    case 50057:
      return { code: 'access_denied', userMessage: `Your account is locked or disabled. (${tag})` };
    case 501481:
    case 54005:
    case 70000:
    case 70008:
      return {
        code: 'invalid_state',
        userMessage: `This sign-in could not be completed; please start again. (${tag})`,
      };
  }
  switch (error) {
    case 'access_denied':
    case 'consent_required':
    case 'interaction_required':
    case 'login_required':
      return { code: 'access_denied', userMessage: `Microsoft did not allow the sign-in. (${tag})` };
    case 'temporarily_unavailable':
    case 'server_error':
      return {
        code: 'upstream_unavailable',
        userMessage: `Microsoft sign-in is temporarily unavailable. Try again. (${tag})`,
      };
    default:
      return { code: 'upstream_error', userMessage: `Microsoft sign-in failed. (${tag})` };
  }
}

/** Turns what an msal call threw into a ConnectorError. `refreshing`: token-grant refusals mean the user must sign in again. */
export function mapMsalError(error: unknown, session: MsalSession, refreshing: boolean): ConnectorError {
  if (session.network.failure) return session.network.failure;
  if (isConnectorError(error)) return error;
  if (error instanceof AuthError) {
    const code = aadsts(error);
    const upstream = error.errorCode;
    if (upstream === 'state_mismatch' || upstream === 'nonce_mismatch') {
      return new ConnectorError('invalid_state', `msal: ${upstream}`, {
        userMessage: 'This sign-in could not be completed; please start again.',
      });
    }
    if (upstream === 'network_error') {
      return new ConnectorError('upstream_unavailable', 'Entra ID unreachable', {
        userMessage: 'Microsoft sign-in is not reachable right now.',
      });
    }
    if (
      refreshing &&
      ['invalid_grant', 'interaction_required', 'consent_required', 'login_required'].includes(upstream)
    ) {
      return new ConnectorError(
        'refresh_failed',
        `Entra ID refused the refresh token (${code !== undefined ? `AADSTS${code}` : upstream})`,
      );
    }
    const mapped = describeAadsts(code, upstream);
    return new ConnectorError(
      mapped.code,
      `Entra ID token request failed: ${upstream}${code !== undefined ? ` AADSTS${code}` : ''}`,
      {
        userMessage: mapped.userMessage,
      },
    );
  }
  return new ConnectorError('upstream_error', `unexpected msal failure: ${(error as Error)?.name ?? typeof error}`);
}
