/**
 * oidc-provider middleware that rate-limits the device flow's user_code form (RFC 8628 §5.1).
 * Every POST to the verification page looks a user_code up (the confirm and abort buttons
 * included), so each one reserves an attempt before oidc-provider runs; one that found a
 * pending code gives it back. Past the limit: a 429 page, and the lookup never happens.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { DeviceCodeThrottle } from './throttle.ts';
import { clientAddress, contentSecurityPolicy } from '../http/security.ts';
import { errorPage, type PageContext } from '../http/views/pages.ts';

export interface DeviceCodeThrottleDeps {
  throttle: DeviceCodeThrottle;
  /** `web.trustedProxies` (see clientAddress). */
  trustedProxies: string[];
  pages: PageContext;
  /** The provider-relative path of the verification page (`routes.code_verification`). */
  verificationPath: string;
  logger: { warn(obj: object, msg?: string): void };
}

export function deviceCodeThrottle(deps: DeviceCodeThrottleDeps) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    if (ctx.method !== 'POST' || ctx.path !== deps.verificationPath) {
      await next();
      return;
    }
    const reserved = deps.throttle.reserve(clientAddress(ctx.req, deps.trustedProxies));
    if (!reserved.ok) {
      const minutes = Math.max(1, Math.ceil(reserved.retryAfterMs / 60_000));
      deps.logger.warn({ path: ctx.path }, 'device code attempts throttled');
      ctx.status = 429;
      ctx.set('Retry-After', String(Math.ceil(reserved.retryAfterMs / 1000)));
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Security-Policy', contentSecurityPolicy([]));
      ctx.type = 'html';
      ctx.body = errorPage(deps.pages, {
        title: 'Too many attempts',
        message: `Too many codes were tried. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      });
      return;
    }
    try {
      await next();
    } finally {
      // oidc-provider names the DeviceCode entity only once the code was found and still pending.
      if (ctx.oidc?.entities?.DeviceCode) reserved.attempt.succeeded();
      else reserved.attempt.failed();
    }
  };
}
