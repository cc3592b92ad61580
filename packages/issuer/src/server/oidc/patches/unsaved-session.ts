/**
 * Replaces `Session.prototype.persist` (oidc-provider 9.13.3, lib/models/session.js), which
 * throws a TypeError for a session that was never saved (no `exp`).
 *
 * oidc-provider re-saves a session its error handler touched (the device pages keep their xsrf
 * secret in it) with `persist()`: a cookie-less request to /device/* became a 500. Such a session
 * has no cookie either, so saving it would only leave an orphan record per request: it is skipped.
 */
import type Provider from 'oidc-provider';

export interface PersistingSession {
  exp?: unknown;
  persist(): Promise<unknown>;
}

export function patchUnsavedSessions(provider: Provider): void {
  const proto = provider.Session.prototype as unknown as PersistingSession;
  const original = proto.persist;
  proto.persist = async function (this: PersistingSession) {
    if (typeof this.exp !== 'number') return undefined;
    return original.call(this);
  };
}
