/**
 * oidc-provider 9.13.3 answers with an auto-submitting page (an inline script, whose hash it adds
 * to script-src) from lib/response_modes/form_post.js, which has no hook. Our CSP allows no
 * script, so we render those forms ourselves, from values we know rather than from its HTML:
 *
 * - the `form_post` response mode: upstream registers it with `registerResponseMode` while the
 *   Provider is constructed, and registration is first-wins (lib/provider.js), so a subclass that
 *   swaps the handler at that call is the only way in;
 * - three paths call form_post.js directly: a logout without an issuer session
 *   (actions/end_session.js), the logout that resumes an interaction (actions/authorization/resume.js),
 *   and `GET /device?user_code=` (actions/code_verification.js). Their page is recognised by its
 *   title, and the form rebuilt from the session's xsrf secret and `urlFor`, as upstream builds it.
 */
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface AutoSubmitForm {
  action: string;
  fields: Array<[string, string]>;
}

/** Renders a form that upstream would auto-submit; `ctx.status` is already set. */
export type FormRenderer = (ctx: KoaContextWithOIDC, form: AutoSubmitForm) => void;

/** The title of upstream's form_post.js page, how the direct callers' output is recognised. */
export const UPSTREAM_TITLE = '<title>Submitting Callback</title>';

const statusCodes = new Set([200, 400, 500]);

/** A field's value as upstream's htmlSafe stringifies it (numbers, booleans; anything else empty). */
function fieldValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
  return '';
}

/** The Provider class to construct: `form_post` responses are rendered by `render`. */
export function providerWithFormPost(render: FormRenderer): typeof Provider {
  return class FormPostProvider extends Provider {
    override registerResponseMode(name: string, handler: Parameters<Provider['registerResponseMode']>[1]): void {
      if (name !== 'form_post') return super.registerResponseMode(name, handler);
      super.registerResponseMode(name, (ctx, redirectUri, payload) => {
        // As upstream: an error response is a 400 unless the status was already one it keeps.
        if (!statusCodes.has(ctx.status)) ctx.status = 'error' in payload ? 400 : 200;
        render(ctx, {
          action: redirectUri,
          fields: Object.entries(payload)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]): [string, string] => [k, fieldValue(v)]),
        });
      });
    }
  };
}

/**
 * The form of a page upstream rendered by calling form_post.js directly, rebuilt from the
 * session and route (never read back from the HTML). Undefined when `ctx.body` is not such a page.
 */
export function directFormPost(ctx: KoaContextWithOIDC): AutoSubmitForm | undefined {
  if (typeof ctx.body !== 'string' || !ctx.body.includes(UPSTREAM_TITLE)) return undefined;
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  const secret = (oidc?.session?.state as { secret?: unknown } | undefined)?.secret;
  if (!oidc || typeof secret !== 'string') return undefined;
  switch (oidc.route) {
    case 'end_session':
    case 'resume':
    case 'device_resume':
      return {
        action: oidc.urlFor('end_session_confirm'),
        fields: [
          ['xsrf', secret],
          ['logout', 'yes'],
        ],
      };
    case 'code_verification': {
      const userCode = (oidc.params as { user_code?: unknown } | undefined)?.user_code;
      if (typeof userCode !== 'string') return undefined;
      return {
        action: oidc.urlFor('code_verification'),
        fields: [
          ['xsrf', secret],
          ['user_code', userCode],
        ],
      };
    }
    default:
      return undefined;
  }
}
