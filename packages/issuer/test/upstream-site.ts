/**
 * A stand-in upstream IdP on its own loopback origin, and a callback connector that logs in
 * through it: `/authorize` sends the browser back to the issuer's callback with `state` and a
 * `code`. For tests that need a real cross-origin hop (CSP form-action chains, form_post).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import {
  CONNECTOR_KIT_VERSION,
  ConnectorError,
  type CallbackRequest,
  type ConnectorFactory,
  type Identity,
} from '@gatehouse/connector-kit';

export interface UpstreamSite {
  origin: string;
  close(): Promise<void>;
}

export async function startUpstreamSite(): Promise<UpstreamSite> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream.invalid');
    const back = URL.parse(url.searchParams.get('redirect_uri') ?? '');
    if (url.pathname !== '/authorize' || back === null) {
      res.writeHead(400).end();
      return;
    }
    back.searchParams.set('state', url.searchParams.get('state') ?? '');
    back.searchParams.set('code', 'upstream-code');
    res.writeHead(303, { location: back.toString() }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const UPSTREAM_USER: Identity = {
  userId: 'u-1',
  username: 'Upstream User',
  email: 'up@example.com',
  emailVerified: true,
};

/** A connector of `type` logging in at `site`; `received` collects what each callback carried. */
export function upstreamSiteFactory(
  type: string,
  site: () => UpstreamSite,
  received: CallbackRequest[] = [],
): ConnectorFactory {
  return {
    type,
    kitVersion: CONNECTOR_KIT_VERSION,
    configSchema: z.strictObject({}),
    open: () => ({
      kind: 'callback',
      async loginURL(_scopes, callbackURL, state) {
        const url = new URL('/authorize', site().origin);
        url.searchParams.set('state', state);
        url.searchParams.set('redirect_uri', callbackURL);
        return { url: url.toString(), keep: { state } };
      },
      async handleCallback(_scopes, kept, request) {
        received.push(request);
        const params = request.method === 'POST' ? new URLSearchParams(request.form) : request.url.searchParams;
        if (params.get('state') !== (kept as { state: string }).state || params.get('code') !== 'upstream-code') {
          throw new ConnectorError('invalid_state', 'bad upstream answer');
        }
        return UPSTREAM_USER;
      },
    }),
  };
}
