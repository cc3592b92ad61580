/** `staticClients`: OAuth2 clients defined in the file (others may be managed in storage). */
import { z } from 'zod';
import { isRecord } from '@gatehouse/common';
import { LOCAL_CONNECTOR_ID } from '../../connectors/local.ts';
import { type RuleContext, type Raw, arr, envValue, str } from '../context.ts';
import { redirectURIProblems } from '../redirect-uris.ts';
import { envName, httpURL, redirectURI } from '../values.ts';

/** RFC 6749 client_id characters, minus the space. */
const CLIENT_ID = /^[\x21-\x7e]+$/;
const clientId = z.string().regex(CLIENT_ID, { message: 'must be printable ASCII without spaces' });

/** Dex registers its device-flow callback as a path (`/dex/device/callback`); checkClients drops it with a warning. */
const clientRedirectURI = z.union([redirectURI, z.string().regex(/^\/[^#]*$/)], {
  error: 'expected an absolute URI without a fragment',
});

export const staticClientSchema = z.object({
  /** `id` or `idEnv`, `secret` or `secretEnv`: resolved by checkClients. */
  id: clientId.optional(),
  idEnv: envName.optional(),
  secret: z.string().min(1).optional(),
  secretEnv: envName.optional(),
  redirectURIs: z
    .array(clientRedirectURI)
    .default([])
    .transform((uris) => uris.filter((u) => !u.startsWith('/'))),
  postLogoutRedirectURIs: z.array(redirectURI).default([]),
  trustedPeers: z.array(z.string().min(1)).default([]),
  public: z.boolean().default(false),
  /** Optional in Gatehouse (Dex requires it); defaults to the id. */
  name: z.string().min(1).optional(),
  logoURL: httpURL.optional(),
  /** Dex master: the connectors this client may log in through, on every grant (absent or empty: any). */
  allowedConnectors: z
    .array(z.string().min(1))
    .transform((ids) => (ids.length === 0 ? undefined : ids))
    .optional(),
});

type ParsedClient = z.output<typeof staticClientSchema>;

export interface StaticClient extends Omit<ParsedClient, 'id' | 'idEnv' | 'secret' | 'secretEnv' | 'name'> {
  id: string;
  secret?: string;
  name: string;
}

/** A client's id and secret, from the file or the environment. */
export interface ClientCredentials {
  id?: string;
  secret?: string;
}

export function checkClients(file: Raw, ctx: RuleContext): ClientCredentials[] {
  const seen = new Map<string, number>();
  const clients = arr(file, 'staticClients');
  const credentials = clients.map((c, i): ClientCredentials => {
    const out: ClientCredentials = {};
    if (!isRecord(c)) return out;
    const base = `staticClients[${i}]`;
    const hasId = c['id'] !== undefined;
    const hasIdEnv = c['idEnv'] !== undefined;
    if (hasId && hasIdEnv) ctx.errors.push({ path: `${base}.idEnv`, message: 'id and idEnv are exclusive' });
    else if (!hasId && !hasIdEnv) ctx.errors.push({ path: `${base}.id`, message: 'id or idEnv is required' });
    else if (hasId) out.id = str(c, 'id');
    else {
      const name = str(c, 'idEnv');
      if (name !== undefined) {
        out.id = envValue(ctx, name, `${base}.idEnv`);
        if (out.id !== undefined && !CLIENT_ID.test(out.id)) {
          ctx.errors.push({ path: `${base}.idEnv`, message: `${name} must be printable ASCII without spaces` });
        }
      }
    }

    const isPublic = c['public'] === true;
    const hasSecret = c['secret'] !== undefined;
    const hasSecretEnv = c['secretEnv'] !== undefined;
    if (hasSecret && hasSecretEnv)
      ctx.errors.push({ path: `${base}.secretEnv`, message: 'secret and secretEnv are exclusive' });
    else if (!hasSecret && !hasSecretEnv) {
      if (!isPublic)
        ctx.errors.push({ path: `${base}.secret`, message: 'secret or secretEnv is required (unless public: true)' });
    } else if (hasSecret) out.secret = str(c, 'secret');
    else {
      const name = str(c, 'secretEnv');
      if (name !== undefined) out.secret = envValue(ctx, name, `${base}.secretEnv`);
    }
    if (out.secret !== undefined && out.secret.length < 16 && !isPublic) {
      ctx.warnings.push({
        path: `${base}.${hasSecret ? 'secret' : 'secretEnv'}`,
        message: 'a client secret shorter than 16 characters is easy to guess',
      });
    }

    if (out.id !== undefined) {
      const first = seen.get(out.id);
      if (first !== undefined)
        ctx.errors.push({ path: `${base}.id`, message: `duplicate client id (also staticClients[${first}])` });
      else seen.set(out.id, i);
    }
    arr(c, 'redirectURIs').forEach((u, j) => {
      if (typeof u === 'string' && u.startsWith('/')) {
        ctx.warnings.push({
          path: `${base}.redirectURIs[${j}]`,
          message:
            "ignored: a path is Dex's device-flow callback; Gatehouse's device flow (RFC 8628) needs no redirect URI",
        });
      }
    });
    // Scheme rules (config/redirect-uris.ts) for what the schema accepted as a URI (it reports
    // the rest); path-only entries were warned about above.
    const uris = (key: string) =>
      arr(c, key)
        .map((u, j) => [j, u] as const)
        .filter(
          (e): e is readonly [number, string] =>
            typeof e[1] === 'string' && !e[1].startsWith('/') && !e[1].includes('#') && URL.parse(e[1]) !== null,
        );
    const redirects = uris('redirectURIs');
    const logouts = uris('postLogoutRedirectURIs');
    for (const p of redirectURIProblems({
      public: isPublic,
      redirectURIs: redirects.map((e) => e[1]),
      postLogoutRedirectURIs: logouts.map((e) => e[1]),
    })) {
      const index = (p.field === 'redirectURIs' ? redirects : logouts)[p.index]?.[0] ?? p.index;
      ctx.errors.push({ path: `${base}.${p.field}[${index}]`, message: p.message });
    }
    if (arr(c, 'redirectURIs').length === 0 && !isPublic) {
      ctx.warnings.push({
        path: `${base}.redirectURIs`,
        message: 'no redirect URIs: this client cannot use the authorization-code flow',
      });
    }
    return out;
  });

  const connectorIds = new Set(arr(file, 'connectors').map((c) => (isRecord(c) ? c['id'] : undefined)));
  if (file['enablePasswordDB'] === true) connectorIds.add(LOCAL_CONNECTOR_ID);
  clients.forEach((c, i) => {
    if (!isRecord(c)) return;
    arr(c, 'allowedConnectors').forEach((id, j) => {
      if (typeof id === 'string' && !connectorIds.has(id)) {
        ctx.warnings.push({
          path: `staticClients[${i}].allowedConnectors[${j}]`,
          message: `no connector with id "${id}" in this file (it may be managed in storage)`,
        });
      }
    });
    arr(c, 'trustedPeers').forEach((peer, j) => {
      if (typeof peer === 'string' && !seen.has(peer)) {
        ctx.warnings.push({
          path: `staticClients[${i}].trustedPeers[${j}]`,
          message: `no static client with id "${peer}" (it may be managed in storage)`,
        });
      }
    });
  });
  return credentials;
}

export function finishClients(parsed: ParsedClient[], credentials: ClientCredentials[]): StaticClient[] {
  return parsed.map(({ id: _id, idEnv: _idEnv, secret: _secret, secretEnv: _secretEnv, name, ...rest }, i) => {
    const { id = '', secret } = credentials[i] ?? {};
    return { ...rest, id, name: name ?? id, ...(secret === undefined ? {} : { secret }) };
  });
}
