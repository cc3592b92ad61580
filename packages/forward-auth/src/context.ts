// Everything a handler needs, built once per instance from the validated configuration.
import type { Logger } from 'pino';
import type { ForwardAuthConfig } from './config/schema.ts';
import type { BearerVerifier } from './bearer.ts';
import type { CsrfFlows } from './csrf.ts';
import type { ForwardedHeaders } from './forwarded.ts';
import type { ForwardAuthMetrics } from './metrics.ts';
import type { OidcClient } from './oidc/client.ts';
import type { RedirectValidator } from './redirect.ts';
import type { Refresher } from './refresh.ts';
import type { RouteRule } from './route-rules.ts';
import type { SharedRevocations } from './session/redis-revocations.ts';
import type { RevocationList } from './session/revocations.ts';
import type { SessionManager } from './session/manager.ts';
import type { SignOutStates } from './signout-state.ts';

export interface AppContext {
  readonly cfg: ForwardAuthConfig;
  readonly log: Logger;
  readonly sessions: SessionManager;
  /** Signed-out logins and tokens (this replica's view; mirrored from Redis with session_store_type = "redis"). */
  readonly revocations: RevocationList;
  readonly sharedRevocations: SharedRevocations | undefined;
  readonly refresher: Refresher;
  readonly oidc: OidcClient;
  readonly bearer: BearerVerifier | undefined;
  readonly csrf: CsrfFlows;
  readonly signOuts: SignOutStates;
  readonly redirects: RedirectValidator;
  readonly forwarded: ForwardedHeaders;
  readonly metrics: ForwardAuthMetrics;
  readonly skipAuthRoutes: readonly RouteRule[];
  readonly apiRoutes: readonly RegExp[];
}
