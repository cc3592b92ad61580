/**
 * The pages oidc-provider shows, rendered by us: its error page, the logout confirmation and
 * logged-out pages, the device-flow pages, and the auto-submitting form (form_post responses, a
 * logout without an issuer session). Every one carries the strict CSP, never a script.
 */
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { directFormPost, type AutoSubmitForm, type FormRenderer } from '../oidc/patches/form-post.ts';
import { renderPage } from './respond.ts';
import { handoffFormTargets } from './security.ts';
import {
  continuePage,
  deviceCodePage,
  deviceConfirmPage,
  deviceDonePage,
  errorPage,
  loggedOutPage,
  logoutPage,
  type PageContext,
} from './views/pages.ts';

type Features = NonNullable<Configuration['features']>;
type LogoutPages = Pick<NonNullable<Features['rpInitiatedLogout']>, 'logoutSource' | 'postLogoutSuccessSource'>;
type DevicePages = Pick<
  NonNullable<Features['deviceFlow']>,
  'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'
>;

const clientNameOf = (ctx: KoaContextWithOIDC): string | undefined =>
  ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;

export function logoutPages(pages: PageContext): LogoutPages {
  return {
    logoutSource: async (ctx, form) => {
      // The confirmation ends in the client's post_logout_redirect_uri and whatever it leads
      // on to (see handoffFormTargets).
      renderPage(
        ctx,
        logoutPage(pages, { form, clientName: clientNameOf(ctx) }),
        handoffFormTargets(ctx.oidc.client?.postLogoutRedirectUris ?? []),
      );
    },
    postLogoutSuccessSource: async (ctx) => {
      renderPage(ctx, loggedOutPage(pages, { clientName: clientNameOf(ctx) }));
    },
  };
}

export function devicePages(pages: PageContext): DevicePages {
  return {
    userCodeInputSource: async (ctx, form, _out, err) => {
      const error = err
        ? (err as { userCode?: unknown }).userCode || err.name === 'NoCodeError'
          ? 'The code you entered is not valid. Check it and try again.'
          : err.name === 'AbortedError'
            ? 'The request was cancelled.'
            : 'The code could not be checked. Start again on your device.'
        : undefined;
      renderPage(ctx, deviceCodePage(pages, { form, ...(error ? { error } : {}) }));
    },
    userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
      // Confirming redirects to the interaction, which stops at a page of ours for device logins
      // (login/routes.ts), so the chain that follows this form never leaves the issuer.
      renderPage(ctx, deviceConfirmPage(pages, { form, clientName: client.clientName ?? client.clientId, userCode }));
    },
    successSource: async (ctx) => {
      renderPage(ctx, deviceDonePage(pages, { clientName: clientNameOf(ctx) }));
    },
  };
}

/** `renderError`: browsers get a readable page (oidc-provider only calls this for requests that
 * prefer HTML; JSON clients get the OAuth error object). Never a stack trace. */
export function errorRenderer(pages: PageContext): NonNullable<Configuration['renderError']> {
  return async (ctx, out) => {
    const message =
      typeof out.error_description === 'string' ? out.error_description : 'The request could not be completed.';
    renderPage(
      ctx,
      errorPage(pages, { title: titleForError(String(out.error)), message: `${message} (${String(out.error)})` }),
    );
  };
}

function titleForError(code: string): string {
  switch (code) {
    case 'invalid_client':
      return 'Unknown application';
    case 'invalid_redirect_uri':
      return 'Invalid redirect';
    case 'access_denied':
      return 'Access denied';
    case 'invalid_request':
    case 'invalid_scope':
      return 'Invalid request';
    default:
      return 'Something went wrong';
  }
}

/**
 * oidc-provider would answer a `form_post` response (and a logout without an issuer session, the
 * device code in a link) with a page that submits itself through an inline script. We render the
 * same form visibly with a button instead, so no page needs a script or a hash; the form comes
 * from oidc/patches/form-post.ts, built from values, never read back from upstream's HTML.
 */
export function formPostRenderer(pages: PageContext): FormRenderer {
  return (ctx, form) => renderContinue(ctx, pages, form);
}

/** The pages upstream rendered by calling its form_post helper directly, replaced by ours. */
export function replaceAutoSubmit(ctx: KoaContextWithOIDC, pages: PageContext): void {
  const form = directFormPost(ctx);
  if (form) renderContinue(ctx, pages, form);
}

function renderContinue(ctx: KoaContextWithOIDC, pages: PageContext, form: AutoSubmitForm): void {
  const route = ctx.oidc?.route;
  const logout = route === 'end_session' || route === 'resume' || route === 'device_resume';
  const client = ctx.oidc?.client;
  const name = client?.clientName ?? client?.clientId;
  // The logout form (a logout without an issuer session) ends like the confirmation page's; the
  // form_post form at the redirect_uri. Either hands the browser to the client (see handoffFormTargets).
  const uris = route === 'end_session' ? (client?.postLogoutRedirectUris ?? []) : [form.action];
  renderPage(
    ctx,
    logout
      ? continuePage(pages, {
          title: 'Log out',
          message: 'Continue to finish logging out.',
          button: 'Continue',
          ...form,
        })
      : continuePage(pages, {
          title: 'Return to the application',
          message: name ? `Continue to ${name}.` : 'Continue to the application.',
          button: 'Continue',
          ...form,
        }),
    handoffFormTargets(uris),
  );
}
