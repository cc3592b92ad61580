/**
 * `startIssuer`: opens the store, connectors and keys, builds oidc-provider and the koa app,
 * listens on `web.http`, and starts telemetry and the garbage collector.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { resolve as resolvePath } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type Provider from 'oidc-provider';
import type { ConnectorFactory } from '@gatehouse/connector-kit';
import type { Store } from '@gatehouse/storage';
import type { ConnectorConfig, IssuerConfig } from '../config/types.ts';
import { createRegistry } from '../connectors/index.ts';
import { LOCAL_CONNECTOR_ID, LOCAL_CONNECTOR_NAME } from '../connectors/local.ts';
import { GrantIdentities, type IssuerConnector } from './grants/accounts.ts';
import { RefreshPolicy } from './grants/refresh-policy.ts';
import { LoginCompletion } from './login/completion.ts';
import { createApp, ProviderSlot } from './app.ts';
import { ClientDirectory } from './oidc/clients.ts';
import { DeviceCodeThrottle, LoginThrottle, type ThrottleOptions } from './login/throttle.ts';
import { deviceCodeThrottle } from './login/device-code-throttle.ts';
import { KeyManager } from './keys/key-manager.ts';
import { AnonymousBudget, AnonymousRecordsStore, type AnonymousBudgetOptions } from './store/anonymous-records.ts';
import { buildProvider } from './oidc/provider.ts';
import { grantTypesOffered } from './oidc/grant-types.ts';
import { registerPasswordGrant } from './login/password-grant.ts';
import { providerScope, withRequestCache } from './store/request-cache.ts';
import { RuntimeConnectors } from './login/runtime-connectors.ts';
import { openIssuerStore, openTelemetry, issuerMetrics, issuerLogger } from './integrations.ts';
import { parseStorageKeys, SealedStore, STORAGE_KEY_ENV } from './store/sealed-store.ts';

export interface StartIssuerOptions {
  config: IssuerConfig;
  logger?: pino.Logger;
  /** A store to use instead of opening `config.storage` (the issuer does not close it). */
  store?: Store;
  /** Extra connector factories (third-party or test connectors). */
  connectorFactories?: ConnectorFactory[];
  /** Folder relative paths in the config are resolved against (SQLite file). Default: cwd. */
  baseDir?: string;
  /** Password and device-code throttling (tests shorten the window). */
  throttle?: Partial<ThrottleOptions>;
  /** Limits on records anonymous clients may cause (`anonymous-records.ts`; tests shorten them). */
  anonymousBudget?: Partial<AnonymousBudgetOptions>;
  /** Seconds between key checks (another replica may have rotated). Default 30. */
  keyCheckInterval?: number;
  /** Keys sealing secrets at rest (`sealed-store.ts`). Default: `GATEHOUSE_STORAGE_KEY`. */
  storageKey?: string;
}

export interface RunningIssuer {
  /** The configured issuer URL (`iss`). */
  issuerURL: string;
  /** Base URL of the listener, e.g. `http://127.0.0.1:5556`. */
  url: string;
  /** Base URL of the TLS listener when `web.https` is set (`url` is the plain one if both are). */
  httpsURL?: string;
  /** Base URL of the telemetry listener when `telemetry.http` is set. */
  telemetryURL?: string;
  store: Store;
  /** The oidc-provider instance answering now (replaced after a key rotation). */
  readonly provider: Provider;
  /** Rotates the signing keys now (compare-and-swap with other replicas) and reloads them. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`web.http "${address}" must be host:port`);
  const host = address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`web.http "${address}" has an invalid port`);
  return { host, port };
}

export async function startIssuer(options: StartIssuerOptions): Promise<RunningIssuer> {
  const { config } = options;
  const logger = options.logger ?? (await issuerLogger(config));
  const issuer = new URL(config.issuer);
  const basePath = issuer.pathname.replace(/\/+$/, '');
  const callbackURL = `${config.issuer.replace(/\/+$/, '')}/callback`;
  const ownsStore = options.store === undefined;
  const storageKeys = parseStorageKeys(options.storageKey ?? process.env[STORAGE_KEY_ENV]);
  // Everything below sees the sealing wrapper (signing keys, connector data at rest).
  const store = new SealedStore(
    options.store ?? (await openIssuerStore(config, options.baseDir ?? process.cwd(), logger)),
    storageKeys,
  );
  // Shared backends are read by more than this host (RBAC on custom resources; database roles, dumps, replicas).
  const sharedAt: Record<string, string> = { kubernetes: 'the custom resources', postgres: 'the PostgreSQL database' };
  if (storageKeys.length === 0 && sharedAt[store.type]) {
    logger.warn(
      `${STORAGE_KEY_ENV} is not set: signing keys and upstream tokens are stored in clear in ${sharedAt[store.type]}`,
    );
  }
  const cleanups: Array<() => Promise<void> | void> = [];
  if (ownsStore) cleanups.push(() => store.close());

  try {
    // Connectors: the password DB (`local`) when enabled, then the configured ones.
    const registry = createRegistry(options.connectorFactories ?? []);
    const configs: ConnectorConfig[] = [];
    if (config.enablePasswordDB) {
      configs.push({
        type: 'local',
        id: LOCAL_CONNECTOR_ID,
        name: LOCAL_CONNECTOR_NAME,
        config: { staticPasswords: config.staticPasswords },
      });
    }
    configs.push(...config.connectors);
    const connectorContext = { logger, issuerURL: config.issuer, callbackURL, store };
    const opened = await registry.openConnectors(configs, connectorContext);
    const connectors = new Map<string, IssuerConnector>(opened.map((o) => [o.id, o]));
    cleanups.push(async () => {
      await Promise.allSettled(opened.map(async (o) => o.connector.close?.()));
    });
    const runtimeConnectors = new RuntimeConnectors({
      registry,
      records: store.connectors,
      context: connectorContext,
      connectors,
      logger,
    });
    await runtimeConnectors.start();
    cleanups.push(() => runtimeConnectors.close());

    const clients = new ClientDirectory(config, store.clients, { grantTypes: grantTypesOffered(config) }, logger);
    await clients.start();
    cleanups.push(() => clients.stop());

    const keys = new KeyManager({
      store: store.keys,
      algorithms: config.signer.algorithms.length > 0 ? config.signer.algorithms : ['RS256'],
      rotationPeriod: config.expiry.signingKeys,
      verificationPeriod: config.expiry.idTokens,
    });
    await keys.refresh();

    const { metrics, prom } = issuerMetrics();
    // One request-scoped read cache for oidc-provider's adapter, findAccount and refresh rotation.
    // Anonymous requests write nothing, or within a budget (anonymous-records.ts).
    const anonymous = new AnonymousRecordsStore(store, {
      cookieKeys: () => keys.cookieKeys(),
      basePath,
      trustedProxies: config.web.trustedProxies,
      budget: new AnonymousBudget({
        onExhausted: (limit) =>
          logger.warn(
            { limit },
            limit === 'total'
              ? 'anonymous record budget spent for this window: device/PAR requests of public clients get 429'
              : 'a client address spent its anonymous record budget for this window',
          ),
        ...options.anonymousBudget,
      }),
      scope: providerScope,
    });
    const modelStore = withRequestCache(anonymous);
    const grants = new GrantIdentities(modelStore);
    const refresh = new RefreshPolicy(config.expiry);
    const login = new LoginCompletion({ store: modelStore, grants, refresh });
    const pages = { frontend: config.frontend, basePath };
    // Per replica (in memory), kept across provider rebuilds.
    const throttle = new LoginThrottle(options.throttle);
    const deviceThrottle = new DeviceCodeThrottle(options.throttle);
    const providerDeps = {
      config,
      store: modelStore,
      keys,
      clients,
      grants,
      refresh,
      login,
      connectors,
      metrics,
      logger,
      pages,
      basePath,
    };
    const build = (): Provider => {
      const p = buildProvider(providerDeps);
      // app.ts hands the provider the issuer's own host and scheme (X-Forwarded-Proto, which is
      // read only with `proxy`); X-Forwarded-For reaches it only from trusted proxies, and the
      // client address is never read from the left-most entry (see clientAddress).
      p.proxy = true;
      p.maxIpsCount = 1;
      // `/device` is routes.code_verification (oidc/provider.ts), relative to the issuer path.
      p.use(
        deviceCodeThrottle({
          throttle: deviceThrottle,
          trustedProxies: config.web.trustedProxies,
          pages,
          verificationPath: '/device',
          logger,
        }) as never,
      );
      if (config.oauth2.passwordConnector) {
        registerPasswordGrant(p, {
          ...providerDeps,
          connectorId: config.oauth2.passwordConnector,
          throttle,
          trustedProxies: config.web.trustedProxies,
        });
      }
      return p;
    };
    const slot = new ProviderSlot(build());

    const app = createApp({
      slot,
      keys,
      store,
      config,
      connectors,
      clients,
      grants,
      login,
      metrics,
      throttle,
      pages,
      basePath,
      callbackURL,
      logger,
    });

    // Key changes (ours or another replica's) reach the provider by rebuilding it.
    let keyCheck: Promise<void> = Promise.resolve();
    const reloadKeys = (rotate: boolean): Promise<void> => {
      keyCheck = keyCheck
        .catch(() => undefined)
        .then(async () => {
          const changed = rotate ? await keys.rotate() : await keys.refresh();
          if (changed) {
            slot.swap(build());
            logger.info({ version: keys.version }, 'signing keys changed; provider reloaded');
          }
        });
      return keyCheck;
    };
    const keyTimer = setInterval(
      () => {
        reloadKeys(false).catch((err: unknown) =>
          logger.warn({ err: (err as Error).message }, 'signing key check failed'),
        );
      },
      (options.keyCheckInterval ?? 30) * 1000,
    );
    keyTimer.unref();
    cleanups.push(() => clearInterval(keyTimer));

    // Expired records are removed every 5 minutes (Dex's GC frequency).
    const gcTimer = setInterval(() => {
      store.gc().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'garbage collection failed'));
    }, 5 * 60_000);
    gcTimer.unref();
    cleanups.push(() => clearInterval(gcTimer));

    // koa handles its own errors (they reach the app's 'error' listener), so the promise is not awaited.
    const koaHandler = app.callback();
    const handler = (req: Parameters<typeof koaHandler>[0], res: Parameters<typeof koaHandler>[1]): void => {
      void koaHandler(req, res);
    };
    const listeners: Array<{ scheme: 'http' | 'https'; server: Server }> = [];
    if (config.web.http || !config.web.https) listeners.push({ scheme: 'http', server: createServer(handler) });
    if (config.web.https) {
      const baseDir = options.baseDir ?? process.cwd();
      const read = (file: string | undefined, key: string) => {
        if (!file) throw new Error(`web.https needs web.${key}`);
        return readFileSync(resolvePath(baseDir, file));
      };
      listeners.push({
        scheme: 'https',
        server: createHttpsServer(
          { cert: read(config.web.tlsCert, 'tlsCert'), key: read(config.web.tlsKey, 'tlsKey') },
          handler,
        ),
      });
    }
    const urls: Partial<Record<'http' | 'https', string>> = {};
    for (const { scheme, server } of listeners) {
      const address = scheme === 'http' ? (config.web.http ?? '127.0.0.1:5556') : (config.web.https as string);
      const { host, port } = splitHostPort(address);
      server.headersTimeout = 20_000;
      server.requestTimeout = 30_000;
      server.listen(port, host);
      await once(server, 'listening'); // rejects on 'error' (port taken)
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      );
      const addr = server.address() as AddressInfo;
      const shown = addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address === '::' ? '::1' : addr.address;
      urls[scheme] = `${scheme}://${addr.family === 'IPv6' ? `[${shown}]` : shown}:${addr.port}`;
    }
    const url = (urls.http ?? urls.https) as string;

    let telemetryURL: string | undefined;
    if (config.telemetry.http) {
      const telemetry = await openTelemetry(config.telemetry.http, () => store.ping(), prom, logger);
      telemetryURL = telemetry.url;
      cleanups.push(() => telemetry.close());
    }
    logger.info(
      { issuer: config.issuer, url, storage: store.type, connectors: [...connectors.keys()] },
      'issuer started',
    );

    let closed: Promise<void> | undefined;
    const running: RunningIssuer = {
      issuerURL: config.issuer,
      url,
      ...(urls.https !== undefined ? { httpsURL: urls.https } : {}),
      ...(telemetryURL !== undefined ? { telemetryURL } : {}),
      store,
      get provider() {
        return slot.provider;
      },
      rotateKeys: () => reloadKeys(true),
      close() {
        closed ??= (async () => {
          await keyCheck.catch(() => undefined);
          for (const c of cleanups.reverse()) await c();
        })();
        return closed;
      },
    };
    return running;
  } catch (err) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}
