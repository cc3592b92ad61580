// /oauth2/userinfo, /ping, /ready, /metrics, /robots.txt.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BearerVerifier } from '../bearer.ts';
import type { AppContext } from '../context.ts';
import type { Identity } from '../authz.ts';
import { Refresher } from '../refresh.ts';
import { sendJSON, sendText } from '../http/respond.ts';

export async function handleUserInfo(ctx: AppContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let identity: Identity | undefined;
  const loaded = ctx.sessions.load(req.headers.cookie);
  if (loaded !== undefined && loaded.entry.authorized) {
    const fate = Refresher.settled(loaded.entry);
    if (fate?.kind === 'refreshed') identity = fate.entry.identity;
    else if (fate === undefined) identity = loaded.entry.identity;
  }
  if (identity === undefined && ctx.bearer !== undefined) {
    const token = BearerVerifier.extract(req.headers.authorization);
    if (token !== undefined) identity = (await ctx.bearer.verify(token))?.identity;
  }
  if (identity === undefined)
    return sendJSON(res, 401, { error: 'unauthorized', error_description: 'a valid session is required' });
  sendJSON(res, 200, {
    user: identity.user,
    email: identity.email ?? null,
    groups: identity.groups,
    preferredUsername: identity.preferredUsername ?? null,
  });
}

export async function handleReady(ctx: AppContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Serving before the first load from Redis would accept every session signed out elsewhere.
  if (ctx.sharedRevocations !== undefined && !ctx.sharedRevocations.synced)
    return sendText(res, 503, 'revocations not loaded from redis yet');
  try {
    await ctx.oidc.discover();
    sendText(res, 200, 'OK');
  } catch {
    sendText(res, 503, 'issuer discovery unreachable');
  }
}

export async function handleMetrics(ctx: AppContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendText(res, 200, await ctx.metrics.registry.metrics(), ctx.metrics.registry.contentType);
}
