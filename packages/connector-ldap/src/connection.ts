import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConnectorError, ConnectorErrorCodes } from '@gatehouse/connector-kit';
import { Client, ResultCodeError } from 'ldapts';
import type { LdapConfig } from './config.ts';

/** What the user sees when the directory cannot be used; details go to the log only. */
export const DIRECTORY_UNAVAILABLE = 'The directory is unavailable. Please try again later.';

/** LDAP result codes we act on (RFC 4511 §4.1.9). */
export const ResultCodes = {
  SizeLimitExceeded: 4,
  NoSuchObject: 32,
  InvalidCredentials: 49,
  ConstraintViolation: 19,
  Busy: 51,
  Unavailable: 52,
} as const;

export interface Endpoint {
  url: string;
  startTLS: boolean;
  tls: ConnectionOptions;
}

/** Derives the URL and TLS settings from Dex's `host`, `insecureNoSSL`, `startTLS` and certificate keys. */
export function endpointFor(c: LdapConfig): Endpoint {
  const plain = c.insecureNoSSL || c.startTLS;
  const port = c.host.port ?? (plain ? 389 : 636);
  const hostPart = isIP(c.host.hostname) === 6 ? `[${c.host.hostname}]` : c.host.hostname;
  const ca = [...(c.rootCA ? [c.rootCA] : []), ...(c.rootCAData ?? [])];
  const tls: ConnectionOptions = {
    host: c.host.hostname, // the name the certificate is checked against, also after StartTLS
    ...(isIP(c.host.hostname) === 0 ? { servername: c.host.hostname } : {}),
    rejectUnauthorized: !c.insecureSkipVerify,
    minVersion: 'TLSv1.2',
    ...(ca.length > 0 ? { ca } : {}),
    ...(c.clientCert && c.clientKey ? { cert: c.clientCert, key: c.clientKey } : {}),
  };
  return { url: `${plain ? 'ldap' : 'ldaps'}://${hostPart}:${port}`, startTLS: c.startTLS, tls };
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|HOSTNAME|ALTNAME|SSL/;

function errorCode(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : '';
}

/** Maps a transport or protocol failure to the connector error the issuer renders. */
export function toConnectorError(e: unknown, during: string): ConnectorError {
  if (e instanceof ConnectorError) return e;
  const code = errorCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (TLS_CODES.test(code) || /certificate|altnames|handshake/i.test(message)) {
    return new ConnectorError(ConnectorErrorCodes.UpstreamError, `LDAP TLS failure during ${during}: ${message}`, {
      userMessage: DIRECTORY_UNAVAILABLE,
      cause: e,
    });
  }
  if (e instanceof ResultCodeError) {
    const busy = e.code === ResultCodes.Busy || e.code === ResultCodes.Unavailable;
    return new ConnectorError(
      busy ? ConnectorErrorCodes.UpstreamUnavailable : ConnectorErrorCodes.UpstreamError,
      `LDAP ${during} failed: ${message}`,
      { userMessage: DIRECTORY_UNAVAILABLE, cause: e },
    );
  }
  // Refused, reset, timed out, socket closed: the directory is not there right now.
  return new ConnectorError(
    ConnectorErrorCodes.UpstreamUnavailable,
    `LDAP server unreachable during ${during}: ${message}`,
    {
      userMessage: DIRECTORY_UNAVAILABLE,
      cause: e,
    },
  );
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `work` on a fresh connection (TLS set up, nothing bound yet) and always closes it.
 * Every step is bounded: connect by `connectTimeout`, each operation by `requestTimeout`.
 */
export async function withConnection<T>(
  c: LdapConfig,
  endpoint: Endpoint,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({
    url: endpoint.url,
    connectTimeout: c.connectTimeout,
    timeout: c.requestTimeout,
    // ldapts speaks TLS from the first byte whenever tlsOptions is given, so only pass it for ldaps://.
    ...(endpoint.url.startsWith('ldaps:') ? { tlsOptions: endpoint.tls } : {}),
  });
  try {
    if (endpoint.startTLS) {
      try {
        await withTimeout(client.startTLS({ ...endpoint.tls }), c.connectTimeout + c.requestTimeout, 'StartTLS');
      } catch (e) {
        throw toConnectorError(e, 'StartTLS');
      }
    }
    return await work(client);
  } finally {
    // Unbind politely but never wait long for it: the socket is destroyed either way.
    await withTimeout(client.unbind(), 2_000, 'unbind').catch(() => undefined);
  }
}
