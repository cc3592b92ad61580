/** The issuer's pages. Each returns a complete HTML document; every value is escaped. */
import type { FrontendConfig } from '../../../config/types.ts';
import { html, layout, raw, type RawHTML } from './html.ts';

export interface PageContext {
  frontend: FrontendConfig;
  basePath: string;
}

const page = (c: PageContext, title: string, body: RawHTML): string =>
  layout({ title, frontend: c.frontend, basePath: c.basePath, body });

export function connectorSelectionPage(c: PageContext, connectors: Array<{ name: string; href: string }>): string {
  return page(
    c,
    'Log in',
    html`<p class="muted">Choose how to log in.</p>
<ul class="connectors">${connectors.map(
      (x) => html`<li><a class="button" href="${x.href}">Log in with ${x.name}</a></li>`,
    )}</ul>`,
  );
}

export function passwordPage(
  c: PageContext,
  o: { connectorName: string; prompt: string; action: string; username?: string; error?: string; backHref?: string },
): string {
  const error = o.error ? html`<p class="error" role="alert" id="login-error">${o.error}</p>` : raw('');
  const describedBy = o.error ? raw(' aria-describedby="login-error"') : raw('');
  const back = o.backHref
    ? html`<a class="button secondary" href="${o.backHref}">Choose another way to log in</a>`
    : raw('');
  return page(
    c,
    `Log in to ${o.connectorName}`,
    html`${error}<form method="post" action="${o.action}">
<label for="login">${o.prompt}</label>
<input type="text" id="login" name="login" value="${o.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus${describedBy}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${describedBy}>
<div class="actions"><button type="submit">Log in</button>${back}</div>
</form>`,
  );
}

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are',
  email: 'View your email address',
  profile: 'View your name and username',
  groups: 'View your group memberships',
  offline_access: 'Stay signed in (keep access while you are away)',
  'federated:id': 'View which identity provider you used and your id there',
};

export function approvalPage(
  c: PageContext,
  o: { clientName: string; scopes: string[]; audiences: string[]; action: string },
): string {
  const items = o.scopes.filter((s) => SCOPE_TEXT[s] !== undefined).map((s) => html`<li>${SCOPE_TEXT[s]}</li>`);
  const aud = o.audiences.map((a) => html`<li>Act on your behalf toward <code>${a}</code></li>`);
  return page(
    c,
    'Grant access',
    html`<p><strong>${o.clientName}</strong> would like to:</p>
<ul class="scopes">${items}${aud}</ul>
<form method="post" action="${o.action}">
<div class="actions">
<button type="submit" name="approval" value="approve">Grant access</button>
<button type="submit" name="approval" value="deny" class="secondary">Cancel</button>
</div>
</form>`,
  );
}

export function errorPage(c: PageContext, o: { title: string; message: string; retryHref?: string }): string {
  const retry = o.retryHref
    ? html`<div class="actions"><a class="button" href="${o.retryHref}">Try again</a></div>`
    : raw('');
  return page(c, o.title, html`<p role="alert">${o.message}</p>${retry}`);
}

/** oidc-provider's logout confirmation. `form` is the provider's hidden form (xsrf token); the
 * buttons submit it through the `form` attribute, so no script is needed. */
export function logoutPage(c: PageContext, o: { form: string; clientName?: string }): string {
  const who = o.clientName ? html`<p>You are leaving <strong>${o.clientName}</strong>.</p>` : raw('');
  return page(
    c,
    'Log out',
    html`${who}<p>Do you want to log out of this identity provider too?</p>
${raw(o.form)}
<div class="actions">
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, log out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay logged in</button>
</div>`,
  );
}

export function loggedOutPage(c: PageContext, o: { clientName?: string }): string {
  return page(
    c,
    'Logged out',
    html`<p>You have been logged out${o.clientName ? html` of ${o.clientName}` : raw('')}.</p>`,
  );
}

/** Pulls the action and xsrf token out of one of oidc-provider's device forms, so the page can
 * render its own accessible form (oidc-provider's has no label and an inline handler). */
export function parseProviderForm(form: string): { action: string; xsrf: string } {
  const action = /action="([^"]*)"/.exec(form)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '';
  return { action, xsrf };
}

export function deviceCodePage(c: PageContext, o: { form: string; error?: string; code?: string }): string {
  const { action, xsrf } = parseProviderForm(o.form);
  const error = o.error
    ? html`<p class="error" role="alert" id="code-error">${o.error}</p>`
    : html`<p>Enter the code shown on your device.</p>`;
  return page(
    c,
    'Connect a device',
    html`${error}<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${o.code ?? ''}" autocomplete="off" autocapitalize="characters" spellcheck="false" required autofocus${o.error ? raw(' aria-describedby="code-error"') : raw('')}>
<div class="actions"><button type="submit">Continue</button></div>
</form>`,
  );
}

export function deviceConfirmPage(c: PageContext, o: { form: string; clientName: string; userCode: string }): string {
  const { action, xsrf } = parseProviderForm(o.form);
  return page(
    c,
    'Confirm the device',
    html`<p><strong>${o.clientName}</strong> on a device showing the code <code>${o.userCode}</code> wants to log in as you.</p>
<p class="muted">If you did not start this, or the code does not match, cancel.</p>
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="user_code" value="${o.userCode}">
<div class="actions">
<button type="submit" name="confirm" value="yes" autofocus>Continue</button>
<button type="submit" name="abort" value="yes" class="secondary">Cancel</button>
</div>
</form>`,
  );
}

export function deviceDonePage(c: PageContext, o: { clientName?: string }): string {
  return page(
    c,
    'Device connected',
    html`<p>You are logged in${o.clientName ? html` to ${o.clientName}` : raw('')}. You can close this window and return to your device.</p>`,
  );
}

/** A visible form where oidc-provider would auto-submit one with a script. */
export function continuePage(
  c: PageContext,
  o: { title: string; message: string; action: string; fields: Array<[string, string]>; button: string },
): string {
  return page(
    c,
    o.title,
    html`<p>${o.message}</p>
<form method="post" action="${o.action}">
${o.fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="actions"><button type="submit" autofocus>${o.button}</button></div>
</form>`,
  );
}

/** After a form of ours succeeded: moves on to `href` by itself (see login/routes.ts continueTo). */
export function movingOnPage(c: PageContext, o: { href: string }): string {
  return layout({
    title: 'Continuing',
    frontend: c.frontend,
    basePath: c.basePath,
    refreshTo: o.href,
    body: html`<p>Continuing to the application…</p>
<div class="actions"><a class="button" href="${o.href}">Continue</a></div>`,
  });
}
