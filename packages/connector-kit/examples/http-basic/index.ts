/**
 * Example connector: checks a username and password against an HTTP user service
 * (`GET {url}/user` with HTTP Basic auth answering `{id, login, name?, email?, groups?}`),
 * and re-reads the user on refresh with a service token (`GET {url}/users/{id}`).
 *
 * It shows the whole plugin contract in one file: a config schema, `defineConnector`,
 * `ConnectorError` codes for every upstream failure, the kit's bounded HTTP client (timeouts,
 * body cap, one retry of a GET on a dropped connection), and no secret in logs.
 */
import {
  ConnectorError,
  defineConnector,
  HttpClient,
  httpsURL,
  parseJSONBody,
  requiredString,
  statusError,
  stringList,
  z,
} from '@gatehouse/connector-kit';
import type {
  Connector,
  HttpResponse,
  Identity,
  PasswordConnector,
  RefreshConnector,
  Scopes,
} from '@gatehouse/connector-kit';

export const configSchema = z
  .object({
    /** Base URL of the user service. */
    url: httpsURL(),
    /** Bearer token for `GET /users/{id}` during refresh. */
    serviceToken: requiredString('serviceToken'),
    /** Label of the username field on the login page. */
    prompt: z.string().min(1).default('Username'),
    /** Only users in one of these groups may log in (empty: everyone). */
    requiredGroups: stringList().default([]),
    /** Per-request timeout. */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .strict();

export type HttpBasicConfig = z.output<typeof configSchema>;

const upstreamUser = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  login: z.string().min(1),
  name: z.string().optional(),
  email: z.string().optional(),
  groups: z.array(z.string()).optional(),
});
type UpstreamUser = z.output<typeof upstreamUser>;

/** Reads the user object of a 200 answer; 5xx and malformed answers are `upstream_error`/`upstream_unavailable`. */
function readUser(response: HttpResponse, what: string): UpstreamUser {
  const call = { upstream: 'The user service', what };
  if (response.status >= 500) throw statusError(call, response.status, response.headers.get('retry-after'));
  const parsed = upstreamUser.safeParse(parseJSONBody(call, response.text));
  if (!parsed.success) throw new ConnectorError('upstream_error', 'user service sent an unexpected user object');
  return parsed.data;
}

function toIdentity(config: HttpBasicConfig, user: UpstreamUser, scopes: Scopes): Identity {
  const groups = user.groups ?? [];
  if (config.requiredGroups.length > 0 && !groups.some((g) => config.requiredGroups.includes(g))) {
    throw new ConnectorError('not_in_required_groups', `user ${user.id} is in none of the required groups`, {
      userMessage: 'You are not a member of a group allowed to sign in here.',
    });
  }
  return {
    userId: user.id,
    username: user.name ?? user.login,
    preferredUsername: user.login,
    ...(user.email !== undefined ? { email: user.email, emailVerified: false } : {}),
    ...(scopes.groups ? { groups } : {}),
    connectorData: { id: user.id },
  };
}

export const factory = defineConnector({
  type: 'example-http-basic',
  configSchema,
  warnings(config) {
    return config.url.startsWith('http:') ? ['url uses plain http: passwords cross the wire unencrypted'] : [];
  },
  open(id, config, context): PasswordConnector & RefreshConnector & Pick<Connector, 'close'> {
    const log = context.logger.child({ connector: id });
    // One pool per connector: `close()` releases its sockets.
    const http = new HttpClient({
      upstream: 'The user service',
      timeoutMs: config.timeoutMs,
      headers: { accept: 'application/json' },
      logger: log,
    });
    return {
      kind: 'password',
      prompt: config.prompt,
      async login(scopes, username, password) {
        // An empty password must never reach the upstream (many treat it as "anonymous").
        if (username === '' || password === '' || username.includes(':')) return { ok: false };
        const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
        const response = await http.send({
          method: 'GET',
          url: `${config.url}/user`,
          headers: { authorization: basic },
          what: 'GET /user',
        });
        if (response.status === 401 || response.status === 403) {
          log.info({ outcome: 'invalid_credentials' }, 'login refused');
          return { ok: false };
        }
        const identity = toIdentity(config, readUser(response, 'GET /user'), scopes);
        log.info({ userId: identity.userId }, 'login');
        return { ok: true, identity };
      },
      async refresh(scopes, identity) {
        const data = identity.connectorData as { id?: unknown } | undefined;
        if (typeof data?.id !== 'string') throw new ConnectorError('refresh_failed', 'connectorData has no user id');
        const response = await http.send({
          method: 'GET',
          url: `${config.url}/users/${encodeURIComponent(data.id)}`,
          headers: { authorization: `Bearer ${config.serviceToken}` },
          what: 'GET /users/{id}',
        });
        if (response.status === 404) {
          throw new ConnectorError('refresh_failed', `user ${data.id} no longer exists upstream`);
        }
        const user = readUser(response, 'GET /users/{id}');
        if (user.id !== identity.userId)
          throw new ConnectorError('refresh_failed', 'upstream returned a different user');
        return toIdentity(config, user, scopes);
      },
      close: () => http.close(),
    };
  },
});

export default factory;
