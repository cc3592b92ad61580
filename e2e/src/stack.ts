/**
 * The whole reference deployment on loopback: nginx (TLS, the ingress annotations) in front of forward-auth,
 * the issuer (Dex-style YAML config; microsoft connector against the fake Entra ID, optionally LDAP against a
 * real slapd) and the sample app. Started and stopped by the tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startForwardAuth, type RunningForwardAuth } from '@gatehouse/forward-auth';
import { loadConfig, startIssuer, type RunningIssuer } from '@gatehouse/issuer';
import type { Store } from '@gatehouse/storage';
import { startFakeEntra, type FakeEntra } from '@gatehouse/testkit/entra';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startSlapd, type Slapd } from '@gatehouse/testkit/slapd';
import { startIdentityApp, type IdentityApp } from '../apps/identity-app.ts';
import { edgeFetch } from './edge-fetch.ts';
import { APP_HOST, makeEdgeTLS, PUBLIC_HOST, startEdge, type AppProxyPass, type Edge, type EdgeTLS } from './edge.ts';
import { CLIENT_ID, forwardAuthClientYAML, forwardAuthConfig, yamlString } from './reference-config.ts';

export { CLIENT_ID };

/** The Entra user of the seed (steps 11-12). */
export const ENTRA_USER = {
  userPrincipalName: 'john.doe@company.com',
  password: 'Entra-Passw0rd!',
  displayName: 'John Doe',
  mail: 'user@company.com',
  mailNickname: 'john.doe',
} as const;

/** An Entra security group of that user (the connector reads it from Graph; forward-auth passes it on). */
export const ENTRA_GROUP = { id: 'a8c4f0e2-5d7b-4c1e-9f3a-2b6d8e0c1f47', displayName: 'gemini-users' } as const;

export type StorageChoice =
  | { kind: 'sqlite' }
  | { kind: 'kubernetes'; kubeconfigPath: string; namespace: string; store: Store }
  /** The issuer opens it from the YAML (Dex's keys; the password through `$VAR`, TLS verify-full with `caFile`). */
  | { kind: 'postgres'; host: string; port: number; database: string; user: string; password: string; caFile: string };

export interface StackOptions {
  storage: StorageChoice;
  /** Add the LDAP connector (a real slapd): the issuer then shows its connector choice page. */
  withLdap?: boolean;
  /** forward-auth `cookie_refresh` (e.g. '3s'): sessions are refreshed with the refresh token during the check. */
  cookieRefresh?: string;
  /** The template's APP_PROXY_PASS variant (default `http://app`). */
  appProxyPass?: AppProxyPass;
  /** forward-auth options added to (and overriding) the stack's, e.g. `skip_auth_routes`, `api_routes`. */
  forwardAuth?: Record<string, unknown>;
  /** Add Dex's `mockCallback` connector (id `mock`): a login that needs no browser (`connector_id=mock`). */
  withMockConnector?: boolean;
  /** Offer the password grant through the LDAP connector (needs `withLdap`) and the device flow. */
  withPasswordGrantAndDeviceFlow?: boolean;
}

export interface Stack {
  origin: string;
  tls: EdgeTLS;
  edge: Edge;
  entra: FakeEntra;
  app: IdentityApp;
  issuer: RunningIssuer;
  forwardAuth: RunningForwardAuth;
  slapd: Slapd | undefined;
  /** The secret of forward-auth's client (CLIENT_ID) at the issuer (for token-endpoint attacks). */
  clientSecret: string;
  /** Certificates Chromium must trust (by key hash) and the extra flags for the fake Entra. */
  browserTrust: { certs: string[]; args: string[] };
  stop(): Promise<void>;
}

/** The issuer config a Dex user would write for this deployment (seed: "Dex Config"). */
function issuerYAML(o: {
  origin: string;
  issuerPort: number;
  storage: string;
  entra: FakeEntra;
  slapd: Slapd | undefined;
  mock: boolean;
  grants: boolean;
}): string {
  const grants = o.grants
    ? `
  grantTypes: [authorization_code, refresh_token, password, "urn:ietf:params:oauth:grant-type:device_code"]
  passwordConnector: ldap`
    : '';
  const mock = o.mock
    ? `
  - type: mockCallback
    id: mock
    name: Mock`
    : '';
  const ldap = o.slapd
    ? `
  - type: ldap
    id: ldap
    name: Corporate LDAP
    config:
      host: ${yamlString(`127.0.0.1:${o.slapd.ldapsPort}`)}
      rootCAData: ${yamlString(Buffer.from(o.slapd.caCert).toString('base64'))}
      bindDN: ${yamlString(o.slapd.seed.service.dn)}
      bindPW: $LDAP_BIND_PW
      usernamePrompt: Username
      userSearch:
        baseDN: ${yamlString(o.slapd.seed.baseDN)}
        filter: ${yamlString(o.slapd.seed.enabledUserFilter)}
        username: uid
        idAttr: uid
        emailAttr: mail
        nameAttr: cn
        preferredUsernameAttr: uid
      groupSearch:
        baseDN: ${yamlString(o.slapd.seed.groupsDN)}
        filter: "(objectClass=groupOfNames)"
        userMatchers:
          - userAttr: DN
            groupAttr: member
        nameAttr: cn`
    : '';
  return `
issuer: ${o.origin}/dex
storage:
${o.storage}
web:
  http: 127.0.0.1:${o.issuerPort}
  trustedProxies: [127.0.0.1]
logger:
  level: error
oauth2:
  skipApprovalScreen: true
  pkce:
    enforce: true${grants}
staticClients:${forwardAuthClientYAML(o.origin)}
connectors:
  - type: microsoft
    id: azure
    name: Microsoft
    config:
      clientID: $AZURE_CLIENT_ID
      clientSecret: $AZURE_CLIENT_SECRET
      tenant: $AZURE_TENANT_ID
      redirectURI: ${yamlString(`${o.origin}/dex/callback`)}
      apiURL: ${yamlString(o.entra.url)}
      graphURL: ${yamlString(o.entra.graphURL)}
      preferredUsernameField: mailNickname${ldap}${mock}
`;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const tls = await makeEdgeTLS();
    const httpsPort = await getFreePort();
    const origin = `https://${PUBLIC_HOST}:${httpsPort}`;
    const secrets = {
      azure: randomBytes(24).toString('base64url'),
      client: randomBytes(24).toString('base64url'),
      cookie: randomBytes(32).toString('base64'),
      appProxy: randomBytes(24).toString('base64url'),
    };

    const azureClientId = '11111111-2222-4333-8444-555555555555';
    const entra = await startFakeEntra({
      users: [{ ...ENTRA_USER, groups: [ENTRA_GROUP.id] }],
      groups: [{ ...ENTRA_GROUP }],
      clients: [{ clientId: azureClientId, clientSecret: secrets.azure, redirectUris: [`${origin}/dex/callback`] }],
    });
    cleanups.push(() => entra.close());
    entra.trustInThisProcess(); // the issuer's msal-node and Graph calls run in this process

    const slapd = options.withLdap ? await startSlapd() : undefined;
    if (slapd) cleanups.push(() => slapd.stop());

    const app = await startIdentityApp({ proxySecret: secrets.appProxy });
    cleanups.push(() => app.stop());

    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-e2e-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const choice = options.storage;
    const storage =
      choice.kind === 'sqlite'
        ? `  type: sqlite3\n  config:\n    file: ${yamlString(join(dataDir, 'gatehouse.db'))}`
        : choice.kind === 'postgres'
          ? [
              '  type: postgres',
              '  config:',
              `    host: ${choice.host}`,
              `    port: ${choice.port}`,
              `    database: ${choice.database}`,
              `    user: ${choice.user}`,
              '    password: $GATEHOUSE_E2E_PG_PASSWORD',
              '    ssl:',
              '      mode: verify-full',
              `      caFile: ${yamlString(choice.caFile)}`,
            ].join('\n')
          : `  type: kubernetes\n  config:\n    inCluster: false\n    kubeConfigFile: ${yamlString(choice.kubeconfigPath)}\n    namespace: ${choice.namespace}`;

    const issuerPort = await getFreePort();
    const loaded = await loadConfig(
      issuerYAML({
        origin,
        issuerPort,
        storage,
        entra,
        slapd,
        mock: options.withMockConnector === true,
        grants: options.withPasswordGrantAndDeviceFlow === true,
      }),
      {
        env: {
          AZURE_CLIENT_ID: azureClientId,
          AZURE_CLIENT_SECRET: secrets.azure,
          AZURE_TENANT_ID: entra.tenantId,
          OAUTH2_PROXY_CLIENT_SECRET: secrets.client,
          LDAP_BIND_PW: slapd?.seed.service.password ?? '',
          GATEHOUSE_E2E_PG_PASSWORD: choice.kind === 'postgres' ? choice.password : '',
        },
        baseDir: dataDir,
      },
    );
    if (!loaded.ok)
      throw new Error(`issuer config rejected: ${loaded.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    const logger = pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' });
    const issuer = await startIssuer({
      config: loaded.config,
      logger,
      baseDir: dataDir,
      // The Kubernetes store is opened by the test (it owns the API server); the config still says kubernetes.
      ...(options.storage.kind === 'kubernetes' ? { store: options.storage.store } : {}),
    });
    cleanups.push(() => issuer.close());

    const faPort = await getFreePort();
    // nginx first (it needs only the upstream addresses), so forward-auth's first discovery through it succeeds.
    const edge = await startEdge({
      tls,
      httpsPort,
      forwardAuthAddr: `127.0.0.1:${faPort}`,
      issuerAddr: `127.0.0.1:${issuerPort}`,
      appAddr: app.addr,
      appProxySecret: secrets.appProxy,
      ...(options.appProxyPass ? { appProxyPass: options.appProxyPass } : {}),
    });
    cleanups.push(() => edge.stop());
    const forwardAuth = await startForwardAuth({
      config: {
        ...forwardAuthConfig({ origin, port: faPort, clientSecret: secrets.client, cookieSecret: secrets.cookie }),
        cookie_domains: [PUBLIC_HOST],
        // The app subdomain (any port: the test's): an absolute rd there is allowed (Domain=PUBLIC_HOST covers it).
        whitelist_domains: [`${APP_HOST}:*`],
        ...(options.cookieRefresh
          ? { scope: 'openid email profile groups offline_access', cookie_refresh: options.cookieRefresh }
          : {}),
        ...options.forwardAuth,
      },
      logger: logger.child({ component: 'forward-auth' }),
      fetch: edgeFetch(origin, tls.caCert),
    });
    cleanups.push(() => forwardAuth.close());

    return {
      origin,
      tls,
      edge,
      entra,
      app,
      issuer,
      forwardAuth,
      slapd,
      clientSecret: secrets.client,
      browserTrust: { certs: [tls.cert], args: entra.chromiumArgs },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
