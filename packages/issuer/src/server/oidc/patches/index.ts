/**
 * Every change the issuer makes to oidc-provider's own models, one file per patch. Each names the
 * upstream behaviour it replaces, and its guard test (beside it) fails when that behaviour
 * changes. They were written against `WRITTEN_AGAINST`: on an upgrade, read each patch's upstream
 * file in the new version and run the guard tests.
 */
import type Provider from 'oidc-provider';
import type { GrantIdentities } from '../../grants/accounts.ts';
import type { Rotation } from '../../grants/refresh-rotation.ts';
import type { KeyManager } from '../../keys/key-manager.ts';
import { patchExactRedirects } from './exact-redirects.ts';
import { patchIdTokenAudience } from './id-token-audience.ts';
import { patchRefreshTokenRotation } from './refresh-token-rotation.ts';
import { patchRetiredKeyHints } from './retired-key-hints.ts';
import { patchUnsavedSessions } from './unsaved-session.ts';

export const WRITTEN_AGAINST = '9.13.3';

export interface PatchDeps {
  grants: GrantIdentities;
  keys: KeyManager;
  rotation: Rotation;
}

export function applyPatches(provider: Provider, deps: PatchDeps): void {
  patchUnsavedSessions(provider);
  patchIdTokenAudience(provider, deps.grants);
  patchRetiredKeyHints(provider, deps.keys);
  patchExactRedirects(provider);
  patchRefreshTokenRotation(provider, deps.rotation);
}
