/**
 * The ingress of the e2e stack: a test CA, a certificate for the public test host name, and nginx running
 * `deploy/nginx/gatehouse.conf.template` in front of forward-auth, the issuer and the sample app.
 */
import { fileURLToPath } from 'node:url';
import { startNginx, type Nginx } from '@gatehouse/testkit/nginx';
import { createTestCA } from '@gatehouse/testkit/tls';
import { getFreePort } from '@gatehouse/testkit/ports';

/** The public host name of the stack (Chromium maps it to 127.0.0.1). */
export const PUBLIC_HOST = 'gatehouse.test';

/**
 * An app host beside it (same nginx, same port): forward-auth's callback stays on PUBLIC_HOST and sends the
 * browser on to a whitelisted `rd` here, as in the deployment where apps live on other subdomains.
 */
export const APP_HOST = `app.${PUBLIC_HOST}`;

export const NGINX_TEMPLATE = fileURLToPath(new URL('../../deploy/nginx/gatehouse.conf.template', import.meta.url));

export interface EdgeTLS {
  caCert: string;
  cert: string;
  key: string;
}

/** A CA and a server certificate for PUBLIC_HOST and APP_HOST, made before nginx starts (the issuer URL needs the port). */
export async function makeEdgeTLS(): Promise<EdgeTLS> {
  const ca = await createTestCA('Gatehouse e2e CA');
  const leaf = await ca.issue([PUBLIC_HOST, APP_HOST]);
  return { caCert: ca.caCert, cert: leaf.cert, key: leaf.key };
}

export interface EdgeOptions {
  tls: EdgeTLS;
  /** The host names nginx serves (default PUBLIC_HOST and APP_HOST): `origin` is the first, `appOrigin` the last. */
  hosts?: string[];
  /** Port to listen on (reserve it first when the issuer URL must name it). Default: a free one. */
  httpsPort?: number;
  forwardAuthAddr: string;
  issuerAddr: string;
  appAddr: string;
  appProxySecret: string;
  /**
   * The app location's `proxy_pass` (the template's APP_PROXY_PASS): `http://app` (default) passes the URI as
   * sent, `http://app/` makes nginx decode, normalise and re-encode it.
   */
  appProxyPass?: AppProxyPass;
}

export type AppProxyPass = 'http://app' | 'http://app/';

export interface Edge {
  nginx: Nginx;
  /** `https://gatehouse.test:<port>` (the first host name). */
  origin: string;
  /** `https://app.gatehouse.test:<port>` (the last host name, the same nginx). */
  appOrigin: string;
  /** Lines of the auth subrequest log (one per `auth_request` made). */
  authSubrequests(): Promise<string[]>;
  /**
   * The auth log lines after the first `skip` lines, once at least `count` of them are about `path`
   * (nginx writes a line in its log phase, just after the response left: a line can trail the response).
   */
  authChecksAfter(skip: number, path: string, count?: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const httpsPort = options.httpsPort ?? (await getFreePort());
  const hosts = options.hosts ?? [PUBLIC_HOST, APP_HOST];
  const nginx = await startNginx({
    confTemplate: NGINX_TEMPLATE,
    files: { 'tls/server.crt': options.tls.cert, 'tls/server.key': options.tls.key },
    vars: {
      HTTPS_PORT: httpsPort,
      SERVER_NAME: hosts.join(' '),
      TLS_CERT: 'tls/server.crt',
      TLS_KEY: 'tls/server.key',
      FORWARD_AUTH_ADDR: options.forwardAuthAddr,
      ISSUER_ADDR: options.issuerAddr,
      APP_ADDR: options.appAddr,
      APP_PROXY_SECRET: options.appProxySecret,
      APP_PROXY_PASS: options.appProxyPass ?? 'http://app',
    },
  });
  const authSubrequests = async (): Promise<string[]> =>
    (await nginx.readLog('auth.log')).split('\n').filter((l) => l !== '');
  return {
    nginx,
    origin: `https://${hosts[0] ?? PUBLIC_HOST}:${httpsPort}`,
    appOrigin: `https://${hosts.at(-1) ?? APP_HOST}:${httpsPort}`,
    authSubrequests,
    async authChecksAfter(skip, path, count = 1) {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const lines = (await authSubrequests()).slice(skip);
        if (lines.filter((l) => l.includes(`for="${path}"`)).length >= count || Date.now() > deadline) return lines;
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stop: () => nginx.stop(),
  };
}
