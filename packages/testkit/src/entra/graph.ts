import type { IncomingMessage } from 'node:http';
import type { HandlerOptions } from './context.ts';
import type { DirectoryUser } from './directory.ts';
import { b64url, graphError, json } from './respond.ts';
import type { Res } from './respond.ts';
import type { RecordedRequest } from './types.ts';

/** Microsoft Graph v1.0: `/me`, `getMemberGroups`, `directoryObjects/getByIds`, paged with `$skiptoken`. */

const GROUP_LIST_SCOPES = [
  'user.readbasic.all',
  'user.read.all',
  'groupmember.read.all',
  'group.read.all',
  'directory.read.all',
  'directory.readwrite.all',
];
const DIRECTORY_READ_SCOPES = ['directory.read.all', 'directory.readwrite.all'];

function hasScope(granted: string, wanted: string[]): boolean {
  const set = new Set(granted.toLowerCase().split(/\s+/));
  return wanted.some((w) => set.has(w));
}

export function graphUser(
  o: HandlerOptions,
  req: IncomingMessage,
  res: Res,
): { user: DirectoryUser; scope: string } | undefined {
  const { directory } = o;
  const auth = req.headers.authorization ?? '';
  const at = auth.startsWith('Bearer ') ? directory.accessTokens.get(auth.slice(7)) : undefined;
  if (!at || at.expiresAt < Date.now() || at.generation !== directory.generation(at.oid)) {
    graphError(
      res,
      401,
      'InvalidAuthenticationToken',
      auth ? 'Access token is invalid or has expired.' : 'Access token is empty.',
    );
    return undefined;
  }
  const user = directory.users.get(at.oid);
  if (!user) {
    graphError(
      res,
      404,
      'Request_ResourceNotFound',
      `Resource '${at.oid}' does not exist or one of its queried reference-property objects are not present.`,
    );
    return undefined;
  }
  return { user, scope: at.scope };
}

export function page<T>(o: HandlerOptions, res: Res, path: string, items: T[], skip: number, context: string): void {
  const slice = items.slice(skip, skip + o.graphPageSize);
  const next =
    skip + o.graphPageSize < items.length
      ? `${o.nextLinkOrigin.value ?? o.baseURL()}${path}?$skiptoken=${b64url(String(skip + o.graphPageSize))}`
      : undefined;
  json(res, 200, { '@odata.context': context, value: slice, ...(next ? { '@odata.nextLink': next } : {}) });
}

export function skipOf(query: URLSearchParams): number | undefined {
  const token = query.get('$skiptoken');
  if (token === null) return 0;
  const decoded = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString() : '';
  return /^\d{1,9}$/.test(decoded) ? Number(decoded) : undefined;
}

export function parseJSON(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function graph(
  o: HandlerOptions,
  req: IncomingMessage,
  res: Res,
  path: string,
  query: URLSearchParams,
  body: string,
  record: RecordedRequest,
): Promise<void> {
  const { directory } = o;
  const base = o.baseURL();
  if (req.method === 'GET' && path === '/v1.0/me') {
    const who = graphUser(o, req, res);
    if (!who) return;
    const u = who.user;
    const all: Record<string, unknown> = {
      id: u.oid,
      displayName: u.displayName,
      userPrincipalName: u.userPrincipalName,
      mail: u.mail,
      mailNickname: u.mailNickname ?? u.userPrincipalName.split('@')[0],
      onPremisesSamAccountName: u.onPremisesSamAccountName ?? null,
      givenName: null,
      surname: null,
    };
    const select = query
      .get('$select')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const fields =
      select && select.length > 0 ? select : ['id', 'displayName', 'userPrincipalName', 'mail', 'givenName', 'surname'];
    const unknown = fields.filter((f) => !(f in all));
    if (unknown.length > 0)
      return graphError(
        res,
        400,
        'Request_BadRequest',
        `Could not find a property named '${unknown[0]}' on type 'microsoft.graph.user'.`,
      );
    const out: Record<string, unknown> = {
      '@odata.context': `${base}/v1.0/$metadata#users(${fields.join(',')})/$entity`,
    };
    for (const f of fields) out[f] = all[f];
    return json(res, 200, out);
  }
  if (req.method === 'POST' && path === '/v1.0/me/getMemberGroups') {
    const who = graphUser(o, req, res);
    if (!who) return;
    if (!hasScope(who.scope, GROUP_LIST_SCOPES))
      return graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    const parsed = parseJSON(body);
    if (!parsed || typeof parsed.securityEnabledOnly !== 'boolean') {
      return graphError(
        res,
        400,
        'Request_BadRequest',
        "Invalid request: 'securityEnabledOnly' is required and must be a boolean.",
      );
    }
    const skip = skipOf(query);
    if (skip === undefined) return graphError(res, 400, 'Request_BadRequest', 'Invalid $skiptoken.');
    return page(
      o,
      res,
      path,
      directory.memberGroups(who.user.oid, parsed.securityEnabledOnly),
      skip,
      `${base}/v1.0/$metadata#Collection(Edm.String)`,
    );
  }
  if (req.method === 'POST' && path === '/v1.0/directoryObjects/getByIds') {
    const who = graphUser(o, req, res);
    if (!who) return;
    if (!hasScope(who.scope, DIRECTORY_READ_SCOPES))
      return graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    const parsed = parseJSON(body);
    const ids = parsed?.ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string')) {
      return graphError(res, 400, 'Request_BadRequest', "Invalid request: 'ids' must be a non-empty list of strings.");
    }
    record.idsRequested = ids.length;
    if (ids.length > 1000)
      return graphError(
        res,
        400,
        'Request_BadRequest',
        'The number of ids in the request exceeds the maximum of 1000.',
      );
    const types = Array.isArray(parsed?.types) ? (parsed.types as unknown[]).map(String) : undefined;
    if (types && types.some((t) => t !== 'group' && t !== 'user'))
      return graphError(res, 400, 'Request_BadRequest', 'Unsupported type in types.');
    const found = (ids as string[])
      .map((id) => directory.groups.get(id))
      .filter((g) => g !== undefined && (!types || types.includes('group')))
      .map((g) => ({
        '@odata.type': '#microsoft.graph.group',
        id: g?.id,
        displayName: g?.displayName,
        securityEnabled: g?.securityEnabled,
      }));
    const skip = skipOf(query);
    if (skip === undefined) return graphError(res, 400, 'Request_BadRequest', 'Invalid $skiptoken.');
    return page(o, res, path, found, skip, `${base}/v1.0/$metadata#directoryObjects`);
  }
  graphError(res, 404, 'UnknownError', `Resource not found for the segment '${path}'.`);
}
