/**
 * The reference stack for a person at a browser: nginx running `deploy/nginx/gatehouse.conf.template` on TLS
 * (a local CA kept in the state directory) in front of forward-auth, the issuer (SQLite, the password DB and
 * the mock connector) and the sample app. The same pieces as the e2e stack, without fakes or test hooks.
 *
 * It uses two pieces of @gatehouse/testkit, the nginx launcher (strict template filling, its own process group,
 * killed if we exit) and the CA helpers: like the tests, the demo runs from a checkout and is never part of the
 * image (the Dockerfile installs only the issuer's and forward-auth's production dependencies), so a test-only
 * package is an acceptable dependency here, and the demo runs the very template the tests check.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startForwardAuth } from '@gatehouse/forward-auth';
import { loadConfig, startIssuer } from '@gatehouse/issuer';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startIdentityApp } from '../apps/identity-app.ts';
import { edgeFetch } from '../src/edge-fetch.ts';
import { startEdge } from '../src/edge.ts';
import { forwardAuthClientYAML, forwardAuthConfig, yamlString } from '../src/reference-config.ts';
import { openDemoState, type DemoState } from './state.ts';

/** `*.localhost` names resolve to loopback in browsers (and curl) with no /etc/hosts edit. */
export const DEMO_HOST = 'gatehouse.localhost';

/** The password DB user (Dex's example user; bcrypt hash of "password", as in deploy/examples/config-dev.yaml). */
export const DEMO_USER = {
  email: 'admin@example.com',
  password: 'password',
  hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
  username: 'admin',
  userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
} as const;

export interface DemoOptions {
  /** The state directory (CA, certificate, secrets, SQLite file). */
  dir: string;
  /** nginx's TLS port on 127.0.0.1. */
  httpsPort: number;
  logger?: Logger;
}

export interface Demo {
  /** `https://gatehouse.localhost:<port>`: the app at `/`, the issuer at `/dex`, forward-auth at `/oauth2`. */
  origin: string;
  state: DemoState;
  /** The loopback addresses behind nginx. */
  addrs: { issuer: string; forwardAuth: string; app: string };
  nginxPid: number;
  stop(): Promise<void>;
}

function issuerYAML(o: { origin: string; issuerPort: number; dbFile: string; logLevel: string }): string {
  return `# Written by ./pnpmw demo on every start (Dex's format); secrets come from the environment.
issuer: ${o.origin}/dex
storage:
  type: sqlite3
  config:
    file: ${yamlString(o.dbFile)}
web:
  http: 127.0.0.1:${o.issuerPort}
  trustedProxies: [127.0.0.1]
logger:
  level: ${o.logLevel}
oauth2:
  skipApprovalScreen: true
  pkce:
    enforce: true
staticClients:${forwardAuthClientYAML(o.origin)}
enablePasswordDB: true
staticPasswords:
  - email: ${yamlString(DEMO_USER.email)}
    hash: ${yamlString(DEMO_USER.hash)}
    username: ${yamlString(DEMO_USER.username)}
    userID: ${yamlString(DEMO_USER.userID)}
connectors:
  - type: mockCallback
    id: mock
    name: Example
`;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => logger.error({ err }, 'stopping the demo'));
    cleanups.length = 0;
  };
  try {
    const state = await openDemoState(options.dir, [DEMO_HOST]);
    const origin = `https://${DEMO_HOST}:${options.httpsPort}`;

    const app = await startIdentityApp({ proxySecret: state.secrets.appProxy });
    cleanups.push(() => app.stop());

    const issuerPort = await getFreePort();
    const yaml = issuerYAML({
      origin,
      issuerPort,
      dbFile: state.dbFile,
      logLevel: logger.level === 'silent' ? 'error' : logger.level,
    });
    await writeFile(join(state.dir, 'issuer.yaml'), yaml, { mode: 0o600 });
    const loaded = await loadConfig(yaml, {
      env: { OAUTH2_PROXY_CLIENT_SECRET: state.secrets.client },
      baseDir: state.dir,
    });
    if (!loaded.ok)
      throw new Error(`issuer config rejected: ${loaded.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    const issuer = await startIssuer({
      config: loaded.config,
      logger: logger.child({ component: 'issuer' }),
      baseDir: state.dir,
      storageKey: state.secrets.storage,
    });
    cleanups.push(() => issuer.close());

    const faPort = await getFreePort();
    // nginx first (it needs only the upstream addresses), so forward-auth's discovery through it succeeds.
    const edge = await startEdge({
      tls: state.tls,
      hosts: [DEMO_HOST],
      httpsPort: options.httpsPort,
      forwardAuthAddr: `127.0.0.1:${faPort}`,
      issuerAddr: `127.0.0.1:${issuerPort}`,
      appAddr: app.addr,
      appProxySecret: state.secrets.appProxy,
    });
    cleanups.push(() => edge.stop());

    const forwardAuth = await startForwardAuth({
      config: forwardAuthConfig({
        origin,
        port: faPort,
        clientSecret: state.secrets.client,
        cookieSecret: state.secrets.cookie,
      }),
      logger: logger.child({ component: 'forward-auth' }),
      // forward-auth reaches the issuer at its public URL through nginx, trusting only the demo CA.
      fetch: edgeFetch(origin, state.tls.caCert),
    });
    cleanups.push(() => forwardAuth.close());

    return {
      origin,
      state,
      addrs: { issuer: `127.0.0.1:${issuerPort}`, forwardAuth: `127.0.0.1:${faPort}`, app: app.addr },
      nginxPid: edge.nginx.pid,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
