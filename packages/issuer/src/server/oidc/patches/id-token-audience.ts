/**
 * Wraps `IdToken.prototype.issue` (oidc-provider 9.13.3, lib/models/id_token.js), which signs an
 * ID token with `aud = this.client.clientId`, read once when `issue` starts.
 *
 * Cross-client audiences (Dex's trustedPeers): the ID token of a grant that was allowed
 * `audience:server:client_id:X` carries aud = [X…, client] and azp = client. For such grants the
 * IdToken sees, for the length of `issue`, a client whose `clientId` is the audience list.
 */
import type Provider from 'oidc-provider';
import type { GrantIdentities } from '../../grants/accounts.ts';

export interface IssuingIdToken {
  ctx?: { oidc?: { entities?: { Grant?: { jti?: string } } } };
  client: { clientId: string } & object;
  set(key: string, value: unknown): void;
  issue(opts?: { use?: string }): Promise<string>;
}

export function patchIdTokenAudience(provider: Provider, grants: GrantIdentities): void {
  const proto = (provider.IdToken as unknown as { prototype: IssuingIdToken }).prototype;
  const original = proto.issue;
  proto.issue = async function (this: IssuingIdToken, opts?: { use?: string }) {
    const grantId = this.ctx?.oidc?.entities?.Grant?.jti;
    if (opts?.use === 'idtoken' && grantId) {
      const ext = await grants.load(grantId, this.ctx);
      const client = this.client;
      const peers = (ext?.audience ?? []).filter((a) => a !== client.clientId);
      if (peers.length > 0) {
        this.set('azp', client.clientId);
        this.client = withClientId(client, [...peers, client.clientId]);
      }
    }
    return original.call(this, opts);
  };
}

/** The client as oidc-provider sees it, but for `clientId`. */
export function withClientId<T extends object>(client: T, clientId: unknown): T {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'clientId') return clientId;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
