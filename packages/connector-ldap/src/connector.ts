import {
  ConnectorError,
  ConnectorErrorCodes,
  type ConnectorContext,
  type ConnectorLogger,
  type Identity,
  type PasswordConnector,
  type PasswordLoginResult,
  type RefreshConnector,
  type Scopes,
} from '@gatehouse/connector-kit';
import { type Client, type Entry, type Filter, ResultCodeError } from 'ldapts';
import type { LdapConfig } from './config.ts';
import { type Endpoint, ResultCodes, endpointFor, toConnectorError, withConnection } from './connection.ts';
import { first, isBinaryAttribute } from './entry.ts';
import { entryFilter, userFilter } from './filters.ts';
import { resolveGroups } from './groups.ts';

/** What refresh needs to find the user again. Kept in `Identity.connectorData`. */
export interface LdapConnectorData {
  dn: string;
}

/** Longer names are not usernames; refusing them early keeps filters and logs small. */
const MAX_USERNAME_LENGTH = 256;

function isConnectorData(v: unknown): v is LdapConnectorData {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { dn?: unknown }).dn === 'string' &&
    (v as { dn: string }).dn !== ''
  );
}

function resultCode(e: unknown): number | undefined {
  return e instanceof ResultCodeError ? e.code : undefined;
}

export class LdapConnector implements PasswordConnector, RefreshConnector {
  readonly kind = 'password' as const;
  readonly prompt: string;
  readonly #config: LdapConfig;
  readonly #endpoint: Endpoint;
  readonly #log: ConnectorLogger;
  readonly #userAttributes: string[];
  readonly #bufferAttributes: string[];

  constructor(id: string, config: LdapConfig, context: ConnectorContext) {
    this.#config = config;
    this.#endpoint = endpointFor(config);
    this.#log = context.logger.child({ connector: id, type: 'ldap' });
    this.prompt = config.usernamePrompt;
    const us = config.userSearch;
    const wanted = [
      us.idAttr,
      us.emailAttr,
      us.nameAttr,
      us.preferredUsernameAttr,
      ...(config.groupSearch?.userMatchers.map((m) => m.userAttr) ?? []),
    ].filter((a): a is string => a !== undefined && a !== 'DN');
    this.#userAttributes = [...new Set(wanted)];
    this.#bufferAttributes = this.#userAttributes.filter(isBinaryAttribute);
  }

  async login(scopes: Scopes, username: string, password: string): Promise<PasswordLoginResult> {
    // An empty password turns a simple bind into an "unauthenticated" bind, which many servers accept
    // as anonymous: it must never reach the directory.
    if (password === '' || username === '' || username.length > MAX_USERNAME_LENGTH) return { ok: false };

    return withConnection(this.#config, this.#endpoint, async (client) => {
      await this.#serviceBind(client);
      const entry = await this.#findUser(client, username);
      if (entry === undefined) return { ok: false };

      try {
        await client.bind(entry.dn, password);
      } catch (e) {
        const code = resultCode(e);
        if (code === ResultCodes.InvalidCredentials || code === ResultCodes.ConstraintViolation) {
          this.#log.info({ dn: entry.dn, ldapCode: code }, 'ldap: wrong password');
          return { ok: false };
        }
        throw toConnectorError(e, 'user bind');
      }

      // Read again as the service account: the user may not be allowed to read groups.
      await this.#serviceBind(client);
      return { ok: true, identity: await this.#identity(client, entry, scopes) };
    });
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    if (!isConnectorData(identity.connectorData)) {
      throw new ConnectorError(ConnectorErrorCodes.RefreshFailed, 'ldap: refresh without a stored user DN');
    }
    const { dn } = identity.connectorData;
    return withConnection(this.#config, this.#endpoint, async (client) => {
      await this.#serviceBind(client);
      const entry = await this.#readUser(client, dn);
      if (entry === undefined) {
        throw new ConnectorError(
          ConnectorErrorCodes.RefreshFailed,
          'ldap: user no longer exists or no longer matches userSearch.filter',
          {
            userMessage: 'Your account is no longer available.',
          },
        );
      }
      const fresh = await this.#identity(client, entry, scopes);
      if (fresh.userId !== identity.userId) {
        throw new ConnectorError(
          ConnectorErrorCodes.RefreshFailed,
          'ldap: the entry at the stored DN now has a different id',
        );
      }
      return fresh;
    });
  }

  async #serviceBind(client: Client): Promise<void> {
    const { bindDN, bindPW } = this.#config;
    if (bindDN === undefined || bindDN === '' || bindPW === undefined || bindPW === '') return; // anonymous searches
    try {
      await client.bind(bindDN, bindPW);
    } catch (e) {
      if (resultCode(e) === ResultCodes.InvalidCredentials) {
        this.#log.error({ bindDN }, 'ldap: the service account (bindDN/bindPW) was refused');
      }
      throw toConnectorError(e, 'service bind');
    }
  }

  async #search(
    client: Client,
    base: string,
    scope: 'base' | 'one' | 'sub',
    filter: Filter,
    sizeLimit: number,
  ): Promise<Entry[]> {
    try {
      const { searchEntries } = await client.search(base, {
        scope,
        filter,
        attributes: this.#userAttributes.length > 0 ? this.#userAttributes : ['1.1'],
        explicitBufferAttributes: this.#bufferAttributes,
        sizeLimit,
      });
      return searchEntries;
    } catch (e) {
      const code = resultCode(e);
      if (code === ResultCodes.NoSuchObject && scope === 'base') return [];
      // More entries than we asked for: the caller treats "too many" as a refusal.
      if (code === ResultCodes.SizeLimitExceeded) return [];
      throw toConnectorError(e, 'user search');
    }
  }

  /** Exactly one entry or nothing: zero means unknown user, two or more is ambiguous and refused. */
  async #findUser(client: Client, username: string): Promise<Entry | undefined> {
    const us = this.#config.userSearch;
    const filter = userFilter(us.filter, us.username, username);
    const entries = await this.#search(client, us.baseDN, us.scope, filter, 2);
    if (entries.length > 1) {
      this.#log.warn(
        { filter: filter.toString(), count: entries.length },
        'ldap: user search matched more than one entry; login refused',
      );
      return undefined;
    }
    const entry = entries[0];
    if (entry === undefined || entry.dn === '') {
      this.#log.debug({ filter: filter.toString() }, 'ldap: user not found');
      return undefined;
    }
    return entry;
  }

  /** Reads the entry at `dn`, only if it still matches the configured user filter. */
  async #readUser(client: Client, dn: string): Promise<Entry | undefined> {
    const entries = await this.#search(client, dn, 'base', entryFilter(this.#config.userSearch.filter), 2);
    return entries.length === 1 ? entries[0] : undefined;
  }

  async #identity(client: Client, entry: Entry, scopes: Scopes): Promise<Identity> {
    const us = this.#config.userSearch;
    const userId = first(entry, us.idAttr);
    if (userId === undefined) {
      throw new ConnectorError(
        ConnectorErrorCodes.UpstreamError,
        `ldap: user entry has no ${us.idAttr} (userSearch.idAttr)`,
        {
          userMessage: 'Your directory entry is missing its identifier; contact your administrator.',
        },
      );
    }
    const username = first(entry, us.nameAttr) ?? userId;
    const preferredUsername = first(entry, us.preferredUsernameAttr);
    // As Dex: the suffix is appended to the name attribute's value.
    const email = us.emailSuffix !== undefined ? `${username}@${us.emailSuffix}` : first(entry, us.emailAttr);
    const identity: Identity = {
      userId,
      username,
      ...(preferredUsername !== undefined ? { preferredUsername } : {}),
      ...(email !== undefined ? { email, emailVerified: true } : {}),
      connectorData: { dn: entry.dn } satisfies LdapConnectorData,
    };
    if (scopes.groups && this.#config.groupSearch !== undefined) {
      try {
        identity.groups = await resolveGroups(client, this.#config.groupSearch, entry, this.#log);
      } catch (e) {
        throw toConnectorError(e, 'group search');
      }
    }
    return identity;
  }
}
