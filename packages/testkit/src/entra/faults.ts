import type { HandlerOptions } from './context.ts';
import { errorPage } from './html.ts';
import { graphError } from './respond.ts';
import type { Res } from './respond.ts';
import type { FakeEntraEndpoint, FakeEntraFault } from './types.ts';

/** The first live fault for this request. OAuth-error faults wait for the request that can carry them. */
export function takeFault(
  o: HandlerOptions,
  endpoint: FakeEntraEndpoint,
  carriesOAuthError: boolean,
): (FakeEntraFault & { remaining: number }) | undefined {
  const f = o.faults.find(
    (x) =>
      (x.where === endpoint || x.where === 'all') &&
      x.remaining > 0 &&
      (carriesOAuthError || x.oauthError === undefined),
  );
  if (f) f.remaining -= 1;
  return f;
}

/** Applies a status/hang/delay fault; returns true when the request has been dealt with. */
export async function applyFault(
  fault: FakeEntraFault | undefined,
  endpoint: FakeEntraEndpoint,
  res: Res,
): Promise<boolean> {
  if (!fault) return false;
  if (fault.hang) return true; // the socket stays open until the fake closes
  if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
  if (fault.status === undefined) return false;
  const headers: Record<string, string> =
    fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
  if (endpoint === 'graph') {
    const code =
      fault.status === 429 ? 'TooManyRequests' : fault.status === 503 ? 'serviceNotAvailable' : 'generalException';
    graphError(res, fault.status, code, `Injected fault: HTTP ${fault.status}`, headers);
  } else if (endpoint === 'authorize') {
    res.writeHead(fault.status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(errorPage(90033, 'A transient error has occurred. Please try again.'));
  } else {
    res.writeHead(fault.status, { 'content-type': 'text/plain', ...headers });
    res.end(`Injected fault: HTTP ${fault.status}`);
  }
  return true;
}
