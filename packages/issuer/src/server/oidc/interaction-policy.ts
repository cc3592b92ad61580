/** When oidc-provider sends an authorization to our login pages (the interaction). */
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/** oidc-provider's policy, plus "every authorization request logs in through a connector" (Dex
 * behaviour: no silent SSO from an issuer session; upstream SSO still applies). */
export function loginEveryTime(): interactionPolicy.DefaultPolicy {
  const { base, Check } = interactionPolicy;
  const p = base();
  const login = p.get('login');
  login?.checks.add(
    new Check('connector_login', 'every authorization logs in through a connector', (ctx: KoaContextWithOIDC) => {
      const result = (ctx.oidc as unknown as { result?: { login?: unknown } }).result;
      return ctx.oidc.route.endsWith('resume') && result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return p;
}
