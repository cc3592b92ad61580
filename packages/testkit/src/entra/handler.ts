import type { IncomingMessage } from 'node:http';
import { authorize, submitLogin } from './authorize.ts';
import type { HandlerOptions } from './context.ts';
import { discovery, tenantOK } from './discovery.ts';
import { applyFault, takeFault } from './faults.ts';
import { graph } from './graph.ts';
import { errorPage } from './html.ts';
import { BadBody, html, json, oauthError, readBody } from './respond.ts';
import type { Res } from './respond.ts';
import { token } from './token.ts';
import type { FakeEntraEndpoint, RecordedRequest } from './types.ts';

export type { HandlerOptions } from './context.ts';

function endpointOf(path: string): FakeEntraEndpoint | undefined {
  if (path.startsWith('/v1.0/')) return 'graph';
  if (path.endsWith('/.well-known/openid-configuration')) return 'discovery';
  if (path.endsWith('/discovery/v2.0/keys')) return 'keys';
  if (path.endsWith('/oauth2/v2.0/token')) return 'token';
  if (path.endsWith('/oauth2/v2.0/authorize') || path.endsWith('/login')) return 'authorize';
  return undefined;
}

/** Routes a request to its endpoint, after recording it and applying any fault set for it. */
export function createHandler(o: HandlerOptions): (req: IncomingMessage, res: Res) => Promise<void> {
  return async (req: IncomingMessage, res: Res): Promise<void> => {
    const parsedURL = new URL(req.url ?? '/', 'https://fake.invalid');
    const path = parsedURL.pathname;
    const record: RecordedRequest = { method: req.method ?? 'GET', path };
    o.requests.push(record);
    const endpoint = endpointOf(path);
    try {
      let body = '';
      if (req.method === 'POST') body = await readBody(req);
      const carriesOAuthError =
        req.method === 'POST' && (path.endsWith('/login') || path.endsWith('/oauth2/v2.0/token'));
      const fault = endpoint ? takeFault(o, endpoint, carriesOAuthError) : undefined;
      if (endpoint && (await applyFault(fault, endpoint, res))) return;

      if (endpoint === 'graph') return await graph(o, req, res, path, parsedURL.searchParams, body, record);

      const m = /^\/([^/]+)\/(.+)$/.exec(path);
      const tenant = m?.[1] ?? '';
      const rest = m?.[2] ?? '';
      if (!m || !tenantOK(o, tenant)) {
        if (endpoint === 'authorize') return html(res, 400, errorPage(90002, `Tenant '${tenant}' not found.`));
        return oauthError(
          res,
          400,
          'invalid_tenant',
          90002,
          `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID.`,
        );
      }
      if (req.method === 'GET' && rest === 'v2.0/.well-known/openid-configuration')
        return json(res, 200, discovery(o, tenant));
      if (req.method === 'GET' && rest === 'discovery/v2.0/keys') return json(res, 200, { keys: [o.publicJwk] });
      if (req.method === 'GET' && rest === 'oauth2/v2.0/authorize')
        return await authorize(o, res, tenant, parsedURL.searchParams);
      if (req.method === 'POST' && rest === 'login')
        return await submitLogin(o, res, tenant, new URLSearchParams(body), fault);
      if (req.method === 'POST' && rest === 'oauth2/v2.0/token') {
        if (fault?.oauthError)
          return oauthError(res, 400, fault.oauthError.error, fault.oauthError.code, fault.oauthError.description);
        const type = req.headers['content-type'] ?? '';
        if (!type.startsWith('application/x-www-form-urlencoded')) {
          return oauthError(
            res,
            400,
            'invalid_request',
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
          );
        }
        return await token(o, req, res, tenant, new URLSearchParams(body));
      }
      if (endpoint === 'token' || endpoint === 'authorize') return json(res, 405, { error: 'method_not_allowed' });
      json(res, 404, { error: 'not_found' });
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      if (error instanceof BadBody) return json(res, 413, { error: 'request_too_large' });
      json(res, 500, { error: 'server_error', error_description: 'fake entra internal error' });
    }
  };
}
