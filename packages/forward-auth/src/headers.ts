// The identity headers of a 202, computed once per session from the decrypted session only.
import type { Identity } from './authz.ts';

/**
 * A header value as bytes on the wire: UTF-8 carried through Node's latin1 header encoding (as Go writes it).
 * Undefined for values with control characters, which could split or smuggle headers.
 */
export function headerValue(v: string | undefined): string | undefined {
  if (v === undefined || v === '' || /[\x00-\x1f\x7f]/.test(v)) return undefined;
  return /^[\x20-\x7e]*$/.test(v) ? v : Buffer.from(v, 'utf8').toString('latin1');
}

export interface HeaderOptions {
  readonly setXAuthRequest: boolean;
  readonly passAccessToken: boolean;
}

/** Flat [name, value, …] list for `res.writeHead(202, list)`, starting with Content-Length: 0. */
export function authResponseHeaders(id: Identity, accessToken: string | undefined, o: HeaderOptions): string[] {
  const out = ['Content-Length', '0'];
  if (!o.setXAuthRequest) return out;
  const add = (name: string, value: string | undefined) => {
    const v = headerValue(value);
    if (v !== undefined) out.push(name, v);
  };
  add('X-Auth-Request-User', id.user);
  add('X-Auth-Request-Email', id.email);
  add('X-Auth-Request-Preferred-Username', id.preferredUsername);
  add('X-Auth-Request-Groups', id.groups.filter((g) => headerValue(g) !== undefined).join(','));
  if (o.passAccessToken) add('X-Auth-Request-Access-Token', accessToken);
  return out;
}
