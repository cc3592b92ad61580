/** The fake's pages: a sign-in form the browser e2e fills, error pages, and form_post. */

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>${body}</main></body></html>`;
}

/** Field names follow Microsoft's login page: `loginfmt` (user name), `passwd` (password). */
export function loginForm(action: string, ctx: string, error?: string, loginHint = ''): string {
  return page(
    'Sign in to your account',
    `<h1>Sign in</h1>
${error ? `<p role="alert" id="passwordError">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}" id="loginForm">
  <input type="hidden" name="ctx" value="${escapeHtml(ctx)}">
  <label for="i0116">Email, phone, or Skype</label>
  <input type="email" name="loginfmt" id="i0116" autocomplete="username" value="${escapeHtml(loginHint)}" required>
  <label for="i0118">Password</label>
  <input type="password" name="passwd" id="i0118" autocomplete="current-password" required>
  <input type="submit" id="idSIButton9" value="Sign in">
</form>`,
  );
}

export function errorPage(code: number, message: string): string {
  return page(
    'Sign in error',
    `<h1>Sorry, but we’re having trouble signing you in.</h1>
<p id="errorCode">AADSTS${code}: ${escapeHtml(message)}</p>`,
  );
}

/** `response_mode=form_post`: an auto-submitting form to the redirect URI. */
export function formPost(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('\n');
  return page(
    'Working...',
    `<form method="post" action="${escapeHtml(action)}" id="hiddenform">${inputs}
<noscript><input type="submit" value="Continue"></noscript></form>
<script>document.getElementById('hiddenform').submit()</script>`,
  );
}
