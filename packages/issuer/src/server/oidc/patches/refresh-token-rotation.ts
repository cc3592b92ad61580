/**
 * Replaces `RefreshToken.prototype.consume` and wraps `RefreshToken.prototype.save`
 * (oidc-provider 9.13.3, lib/models/refresh_token.js and lib/models/base_token.js). Upstream,
 * `consume` marks the token consumed in the adapter and emits `consumed`, and the token endpoint
 * then saves a brand-new successor (no `jti` until `save` assigns one): a rotated token presented
 * again would mint a second successor.
 *
 * Here `consume` asks the `Rotation` (grants/refresh-rotation.ts) whether this request won the
 * rotation or reuses a token inside Dex's reuse window; `save` of the successor in the same
 * request then links it from the predecessor, or hands back the successor already recorded.
 */
import type Provider from 'oidc-provider';
import type { Rotation } from '../../grants/refresh-rotation.ts';

export interface RotatingRefreshToken {
  jti?: string;
  emit(event: string): void;
  consume(): Promise<void>;
  save(...args: unknown[]): Promise<string>;
}

export function patchRefreshTokenRotation(provider: Provider, rotation: Rotation): void {
  const proto = provider.RefreshToken.prototype as unknown as RotatingRefreshToken;
  const originalSave = proto.save;

  proto.consume = async function (this: RotatingRefreshToken) {
    const state = await rotation.consume(this.jti as string);
    rotation.noteDecision(state);
    if (state.kind === 'rotated') this.emit('consumed');
  };

  proto.save = async function (this: RotatingRefreshToken, ...args: unknown[]) {
    // Only the brand-new token of a rotation in this request is affected.
    if (this.jti !== undefined) return originalSave.apply(this, args);
    const state = rotation.takeDecision();
    if (!state) return originalSave.apply(this, args);
    if (state.kind === 'reused') {
      this.jti = state.successor;
      return state.successor;
    }
    const value = await originalSave.apply(this, args);
    await rotation.link(state.predecessor, value, state.consumedAt);
    return value;
  };
}
