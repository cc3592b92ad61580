/**
 * `local`: Dex's password DB. Users come from `staticPasswords` in the config (read-only, they
 * win on a clash, as Dex's static overlay does) and from the store's password records. The
 * issuer opens it (id `local`, name `Email`, config `{ staticPasswords }`) when `enablePasswordDB`
 * is true, passing its store in the context.
 */
import { hashSync } from '@node-rs/bcrypt';
import { z } from 'zod';
import { CONNECTOR_KIT_VERSION, ConnectorError, ConnectorErrorCodes } from '@gatehouse/connector-kit';
import type {
  ConnectorContext,
  ConnectorFactory,
  ConnectorLogger,
  Identity,
  PasswordConnector,
  PasswordLoginResult,
  RefreshConnector,
  Scopes,
} from '@gatehouse/connector-kit';
import type { PasswordUser, RecordStore } from '@gatehouse/storage';
import { BCRYPT_HASH, verifyPassword, type PasswordCheck } from './password-hash.ts';

export const LOCAL_CONNECTOR_ID = 'local';
export const LOCAL_CONNECTOR_NAME = 'Email';

export { BCRYPT_HASH };

const staticUser = z.strictObject({
  email: z.string().min(1),
  hash: z.string().regex(BCRYPT_HASH, { message: 'expected a bcrypt hash with cost 10..16' }),
  username: z.string(),
  userID: z.string().min(1),
  name: z.string().optional(),
  preferredUsername: z.string().optional(),
  emailVerified: z.boolean().default(true),
  groups: z.array(z.string()).default([]),
});

export const localConfigSchema = z.strictObject({
  /** The config's `staticPasswords`, already normalised by the loader. */
  staticPasswords: z.array(staticUser).default([]),
});
export type LocalConfig = z.output<typeof localConfigSchema>;

/** The issuer passes its store so the connector can read password records. */
export interface LocalConnectorContext extends ConnectorContext {
  store: { passwords: Pick<RecordStore<PasswordUser>, 'get'> };
}

/** Compared against when the user is unknown, so a miss costs as much as a wrong password. */
const DUMMY_HASH = hashSync('gatehouse-dummy-password', 10);

interface FoundUser {
  hash: string;
  identity: Identity;
}

export type LocalConnector = PasswordConnector & RefreshConnector;

export interface LocalConnectorOptions {
  /** Where a stored hash that cannot be checked is reported (by email, never the hash). */
  logger?: ConnectorLogger;
  /** The bcrypt comparison; tests count calls through it. */
  verify?: (password: string, hash: string) => Promise<PasswordCheck>;
}

export function openLocalConnector(
  config: LocalConfig,
  store: LocalConnectorContext['store'] | undefined,
  options: LocalConnectorOptions = {},
): LocalConnector {
  const verify = options.verify ?? verifyPassword;
  const statics = new Map(config.staticPasswords.map((p) => [p.email.toLowerCase(), p]));

  async function find(email: string): Promise<FoundUser | undefined> {
    const key = email.trim().toLowerCase();
    if (key === '') return undefined;
    const s = statics.get(key);
    if (s !== undefined) {
      const identity: Identity = {
        userId: s.userID,
        username: s.username,
        email: s.email,
        emailVerified: s.emailVerified,
        groups: [...s.groups],
      };
      if (s.preferredUsername !== undefined) identity.preferredUsername = s.preferredUsername;
      return { hash: s.hash, identity };
    }
    if (store === undefined) return undefined;
    let record: PasswordUser | undefined;
    try {
      record = await store.passwords.get(key);
    } catch (e) {
      throw new ConnectorError(ConnectorErrorCodes.UpstreamUnavailable, 'password store unavailable', { cause: e });
    }
    if (record === undefined) return undefined;
    return {
      hash: record.hash,
      identity: { userId: record.userId, username: record.username, email: record.email, emailVerified: true },
    };
  }

  return {
    kind: 'password',
    prompt: 'Email Address',
    async login(_scopes: Scopes, username: string, password: string): Promise<PasswordLoginResult> {
      // An empty password is refused before any lookup (it says nothing about the account).
      if (password === '') return { ok: false };
      const user = await find(username);
      // Always run one bcrypt comparison so timing does not reveal whether the account exists.
      const check = await verify(password, user?.hash ?? DUMMY_HASH);
      if (!check.ok) {
        // As Dex: the user sees invalid credentials. The operator sees which record is broken.
        options.logger?.error(
          { email: user?.identity.email, code: check.code },
          'password record has no valid bcrypt hash (cost 10..16); login refused',
        );
        await verify(password, DUMMY_HASH); // the same time as a wrong password
        return { ok: false };
      }
      if (user === undefined || !check.match) return { ok: false };
      return { ok: true, identity: user.identity };
    },
    async refresh(_scopes: Scopes, identity: Identity): Promise<Identity> {
      const user = identity.email === undefined ? undefined : await find(identity.email);
      if (user === undefined) {
        throw new ConnectorError(ConnectorErrorCodes.RefreshFailed, 'password user no longer exists');
      }
      if (user.identity.userId !== identity.userId) {
        throw new ConnectorError(ConnectorErrorCodes.RefreshFailed, 'password user was recreated with another userID');
      }
      return { ...user.identity, connectorData: identity.connectorData };
    },
  };
}

export const localFactory: ConnectorFactory<LocalConfig> = {
  type: 'local',
  kitVersion: CONNECTOR_KIT_VERSION,
  configSchema: localConfigSchema,
  open(_id, config, context) {
    const store = (context as Partial<LocalConnectorContext>).store;
    return openLocalConnector(config, store, { logger: context.logger });
  },
};

export default localFactory;
