/**
 * Which redirect URIs a client may register, checked the same way for `staticClients` (at load,
 * with the key path) and for clients from the store (ClientDirectory skips a bad one). The rules
 * follow what oidc-provider accepts, so a client that passes here also works at `/auth`:
 * - a confidential client is a web app: only http(s) URIs;
 * - a public client may also use a private-use scheme (`com.example.app:/cb`, RFC 8252 §7.1);
 *   such a client is registered as `application_type: native`, where http URIs must be loopback
 *   (§7.3) and https ones must not be (claimed URLs, §7.2);
 * - never a scheme that runs or embeds content in the browser (`javascript:`, `data:`...).
 */

export const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  'javascript:',
  'vbscript:',
  'data:',
  'blob:',
  'file:',
  'about:',
]);
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface ClientURIs {
  public: boolean;
  redirectURIs: readonly string[];
  postLogoutRedirectURIs: readonly string[];
}

export interface URIProblem {
  field: 'redirectURIs' | 'postLogoutRedirectURIs';
  index: number;
  message: string;
}

const isWeb = (u: URL): boolean => u.protocol === 'http:' || u.protocol === 'https:';

/** Whether the client needs `application_type: native` (a public client with a private-use scheme URI). */
export function isNativeClient(client: ClientURIs): boolean {
  if (!client.public) return false;
  return [...client.redirectURIs, ...client.postLogoutRedirectURIs].some((s) => {
    const u = URL.parse(s);
    return u !== null && !isWeb(u);
  });
}

export function redirectURIProblems(client: ClientURIs): URIProblem[] {
  const problems: URIProblem[] = [];
  const native = isNativeClient(client);
  const check = (field: URIProblem['field'], list: readonly string[]) =>
    list.forEach((s, index) => {
      const u = URL.parse(s);
      const problem = (message: string) => problems.push({ field, index, message });
      if (u === null || !/^[a-z][a-z0-9+.-]*:/i.test(s)) return problem('expected an absolute URI');
      if (s.includes('#')) return problem('must not contain a fragment');
      if (FORBIDDEN_SCHEMES.has(u.protocol)) return problem(`the ${u.protocol.slice(0, -1)}: scheme is never allowed`);
      if (!isWeb(u)) {
        if (!client.public)
          problem(
            'a confidential client may only use http(s) URIs (private-use schemes are for public clients: public: true)',
          );
        return;
      }
      if (!native) return;
      // Native (a private-use scheme is registered too): oidc-provider's rules for the whole client.
      if (u.protocol === 'http:' && !LOOPBACK_HOSTS.has(u.hostname)) {
        problem(
          'with a private-use scheme registered, http URIs must be loopback (localhost, 127.0.0.1, [::1]); use https or a separate client',
        );
      } else if (u.protocol === 'https:' && LOOPBACK_HOSTS.has(u.hostname)) {
        problem(
          'with a private-use scheme registered, https URIs must not be loopback; use http://127.0.0.1 or a separate client',
        );
      }
    });
  check('redirectURIs', client.redirectURIs);
  check('postLogoutRedirectURIs', client.postLogoutRedirectURIs);
  return problems;
}
