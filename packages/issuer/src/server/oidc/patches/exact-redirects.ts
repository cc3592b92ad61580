/**
 * Replaces `Client.prototype.redirectUriAllowed` and `postLogoutRedirectUriAllowed`
 * (oidc-provider 9.13.3, lib/models/client.js), which let a native client's loopback URI match
 * on any port (RFC 8252 §7.3).
 *
 * Dex's redirect matching instead: exact, for every client, plus any http loopback URL for public
 * clients registered without redirect URIs (ANY_LOOPBACK, see oidc/clients.ts).
 */
import type Provider from 'oidc-provider';
import { ANY_LOOPBACK, isLoopbackRedirect } from '../clients.ts';

export type RedirectingClient = { redirectUris?: string[]; postLogoutRedirectUris?: string[] } & Record<
  string,
  unknown
>;

export interface RedirectChecks {
  redirectUriAllowed(this: RedirectingClient, value: string): boolean;
  postLogoutRedirectUriAllowed(this: RedirectingClient, value: string): boolean;
}

export function patchExactRedirects(provider: Provider): void {
  const proto = provider.Client.prototype as unknown as RedirectChecks;
  proto.redirectUriAllowed = function (this: RedirectingClient, value: string) {
    if (typeof value !== 'string') return false;
    if (this.redirectUris?.includes(value)) return true;
    return this[ANY_LOOPBACK] === true && isLoopbackRedirect(value);
  };
  proto.postLogoutRedirectUriAllowed = function (this: RedirectingClient, value: string) {
    return typeof value === 'string' && (this.postLogoutRedirectUris?.includes(value) ?? false);
  };
}
