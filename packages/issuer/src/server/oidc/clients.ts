/**
 * OAuth2 clients: `staticClients` from the config plus `store.clients` records managed at run
 * time (Kubernetes: `kubectl apply`). Static clients win on an id collision. Records are read
 * from the store on every lookup, or from a cache fed by `store.clients.watch` when the backend
 * offers one, so a client applied at run time works at once and a deleted one stops.
 */
import type { OAuth2Client, RecordStore } from '@gatehouse/storage';
import { isNativeClient, redirectURIProblems, type ClientURIs } from '../../config/redirect-uris.ts';
import type { IssuerConfig, StaticClient } from '../../config/types.ts';

/** oidc-provider client metadata (snake_case). */
export type ClientMetadata = Record<string, unknown> & { client_id: string };

/** Extra client metadata marking Dex's "public client without redirect URIs" rule. */
export const ANY_LOOPBACK = 'gatehouse_any_loopback';

/** `http://localhost|127.0.0.1|[::1][:port][/path]`, as Dex allows for such clients. */
export function isLoopbackRedirect(value: string): boolean {
  const u = URL.parse(value);
  return (
    u !== null &&
    u.protocol === 'http:' &&
    ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname) &&
    u.hash === '' &&
    u.username === '' &&
    u.password === ''
  );
}

export interface ClientLogger {
  warn(obj: object, msg?: string): void;
}

export interface ClientPolicy {
  /** Grant types the issuer offers (`oauth2.grantTypes` ∩ what is implemented). */
  grantTypes: string[];
}

type AnyClient = Pick<
  OAuth2Client,
  | 'id'
  | 'secret'
  | 'redirectURIs'
  | 'postLogoutRedirectURIs'
  | 'trustedPeers'
  | 'public'
  | 'name'
  | 'logoURL'
  | 'allowedConnectors'
>;

/** Dex's allowedConnectors rule: an absent or empty list allows every connector. */
export function allowsConnector(client: Pick<OAuth2Client, 'allowedConnectors'>, connectorId: string): boolean {
  const list = client.allowedConnectors;
  return list === undefined || list.length === 0 || list.includes(connectorId);
}

const isPublicClient = (client: AnyClient): boolean => client.public === true || !client.secret;

function uris(client: AnyClient, isPublic = isPublicClient(client)): ClientURIs {
  return {
    public: isPublic,
    redirectURIs: client.redirectURIs,
    postLogoutRedirectURIs: client.postLogoutRedirectURIs ?? [],
  };
}

/** Why a client's URIs cannot be registered (empty when they can), e.g. `redirectURIs[1]: ...`. */
export function clientProblems(client: AnyClient): string[] {
  return redirectURIProblems(uris(client)).map((p) => `${p.field}[${p.index}]: ${p.message}`);
}

export function toClientMetadata(client: AnyClient, policy: ClientPolicy): ClientMetadata {
  const isPublic = isPublicClient(client);
  const grantTypes = policy.grantTypes.filter((g) => !(isPublic && g === 'client_credentials'));
  const metadata: ClientMetadata = {
    client_id: client.id,
    redirect_uris: [...client.redirectURIs],
    post_logout_redirect_uris: [...(client.postLogoutRedirectURIs ?? [])],
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    // Public clients (CLIs, SPAs) cannot keep a secret: no client auth, PKCE required instead.
    token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
  };
  // A public client with a private-use scheme URI (mobile apps, RFC 8252) is a native client for
  // oidc-provider, which then also requires loopback http / non-loopback https URIs
  // (redirectURIProblems checks that first). Matching stays exact either way (see provider.ts).
  if (isNativeClient(uris(client, isPublic))) metadata.application_type = 'native';
  if (isPublic && client.redirectURIs.length === 0) {
    // Dex: a public client with no registered redirect URIs may use any http loopback URL
    // (CLIs on a random port). oidc-provider needs one URI; `redirectUriAllowed` is widened
    // for clients carrying ANY_LOOPBACK (see provider.ts).
    metadata.redirect_uris = ['http://127.0.0.1/'];
    metadata[ANY_LOOPBACK] = true;
  }
  if (!isPublic && client.secret) metadata.client_secret = client.secret;
  if (client.name) metadata.client_name = client.name;
  if (client.logoURL) metadata.logo_uri = client.logoURL;
  return metadata;
}

export class ClientDirectory {
  readonly #static: Map<string, StaticClient>;
  readonly #records: RecordStore<OAuth2Client>;
  readonly #policy: ClientPolicy;
  #cache: Map<string, OAuth2Client> | undefined;
  #unwatch: (() => void) | undefined;

  readonly #logger: ClientLogger | undefined;
  /** The problems last logged per rejected store client (logged again only when they change). */
  readonly #rejected = new Map<string, string>();

  constructor(config: IssuerConfig, records: RecordStore<OAuth2Client>, policy: ClientPolicy, logger?: ClientLogger) {
    this.#static = new Map(config.staticClients.map((c) => [c.id, c]));
    this.#records = records;
    this.#policy = policy;
    this.#logger = logger;
  }

  /** A store client oidc-provider would refuse (config load checks static ones) is unknown: it
   * cannot log in, and no other client is affected. */
  #usable(record: OAuth2Client | undefined): OAuth2Client | undefined {
    if (!record) return undefined;
    const problems = clientProblems(record);
    if (problems.length === 0) {
      this.#rejected.delete(record.id);
      return record;
    }
    const summary = problems.join('; ');
    if (this.#rejected.get(record.id) !== summary) {
      if (this.#rejected.size > 1000) this.#rejected.clear();
      this.#rejected.set(record.id, summary);
      this.#logger?.warn(
        { client: record.id.slice(0, 256), problems },
        'client from the store ignored: invalid redirect URIs',
      );
    }
    return undefined;
  }

  /** Primes the watch cache when the backend can push changes. */
  async start(): Promise<void> {
    if (!this.#records.watch) return;
    const cache = new Map<string, OAuth2Client>();
    this.#unwatch = this.#records.watch((event) => {
      if (event.type === 'upsert') cache.set(event.record.id, event.record);
      else cache.delete(event.id);
    });
    for (const c of await this.#records.list()) if (!cache.has(c.id)) cache.set(c.id, c);
    this.#cache = cache;
  }

  stop(): void {
    this.#unwatch?.();
  }

  /** Static clients, passed to oidc-provider's `clients` option. */
  staticMetadata(): ClientMetadata[] {
    return [...this.#static.values()].map((c) => toClientMetadata(c, this.#policy));
  }

  async get(id: string): Promise<AnyClient | undefined> {
    const s = this.#static.get(id);
    if (s) return s;
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) return undefined;
    return this.#usable(this.#cache ? this.#cache.get(id) : await this.#records.get(id));
  }

  /** Metadata of a run-time client (static ones are served by oidc-provider itself). */
  async metadataFor(id: string): Promise<ClientMetadata | undefined> {
    if (this.#static.has(id)) return undefined;
    const record = await this.get(id);
    return record ? toClientMetadata(record, this.#policy) : undefined;
  }

  /** Whether `clientId` may log in through `connectorId` (false for an unknown client). */
  async connectorAllowed(clientId: string, connectorId: string): Promise<boolean> {
    const c = await this.get(clientId);
    return c !== undefined && allowsConnector(c, connectorId);
  }

  /** `trustedPeers` of a client: who may request `audience:server:client_id:<id>`. */
  async trustedPeersOf(id: string): Promise<string[] | undefined> {
    const c = await this.get(id);
    return c ? [...(c.trustedPeers ?? [])] : undefined;
  }
}
