/**
 * The pieces of the reference deployment's configuration that the e2e stack and the demo share: the
 * oauth2-proxy client at the issuer (Dex YAML) and forward-auth's options, both for one public origin.
 */

export const CLIENT_ID = 'oauth2-proxy';

/** JSON strings are valid YAML scalars: any value is quoted safely. */
export function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** The `staticClients` entry for forward-auth (seed: "Dex Config"); its secret comes from OAUTH2_PROXY_CLIENT_SECRET. */
export function forwardAuthClientYAML(origin: string): string {
  return `
  - id: ${CLIENT_ID}
    name: OAuth2 Proxy
    redirectURIs: [${yamlString(`${origin}/oauth2/callback`)}]
    postLogoutRedirectURIs: [${yamlString(`${origin}/oauth2/sign_out/done`)}]
    secretEnv: OAUTH2_PROXY_CLIENT_SECRET`;
}

export interface ForwardAuthOptions {
  origin: string;
  /** Loopback port forward-auth listens on (nginx's auth_request and /oauth2/ upstream). */
  port: number;
  clientSecret: string;
  cookieSecret: string;
}

/** forward-auth behind the nginx of deploy/nginx, as oauth2-proxy runs in the seed (options by oauth2-proxy's names). */
export function forwardAuthConfig(o: ForwardAuthOptions): Record<string, unknown> {
  return {
    provider: 'oidc',
    http_address: `127.0.0.1:${o.port}`,
    oidc_issuer_url: `${o.origin}/dex`,
    client_id: CLIENT_ID,
    client_secret: o.clientSecret,
    redirect_url: `${o.origin}/oauth2/callback`,
    cookie_secret: o.cookieSecret,
    cookie_secure: true,
    email_domains: ['*'],
    set_xauthrequest: true,
    // The seed's X-Auth-Request-User is the user name (john.doe), not the opaque subject.
    user_id_claim: 'preferred_username',
    reverse_proxy: true,
    trusted_proxy_ips: ['127.0.0.1'],
    scope: 'openid email profile groups',
  };
}
