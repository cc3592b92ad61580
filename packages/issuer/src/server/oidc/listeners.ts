/**
 * Listeners the issuer adds to a provider itself. Anything else on a provider was added by a user
 * of `RunningIssuer.provider` and moves to the rebuilt provider after a key rotation (app.ts).
 */
import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';

export const INTERNAL_LISTENERS = new WeakSet<(...args: never[]) => unknown>();

export function listenInternally(provider: Provider, event: string, listener: (...args: never[]) => unknown): void {
  INTERNAL_LISTENERS.add(listener);
  (provider as unknown as EventEmitter).on(event, listener as (...args: unknown[]) => void);
}
