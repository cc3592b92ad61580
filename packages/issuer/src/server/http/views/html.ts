/** HTML escaping and the page layout every view shares. No inline scripts or styles: the one
 * stylesheet is served from `{issuer}/static/style.css` (see `theme.ts`). */
import type { FrontendConfig } from '../../../config/types.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHTML(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** Tagged template: interpolated values are escaped unless wrapped in `raw()`. */
export class RawHTML {
  readonly html: string;
  constructor(html: string) {
    this.html = html;
  }
}
export const raw = (html: string): RawHTML => new RawHTML(html);

export function html(strings: TemplateStringsArray, ...values: unknown[]): RawHTML {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const piece = Array.isArray(v)
      ? v.map((x) => (x instanceof RawHTML ? x.html : escapeHTML(x))).join('')
      : v instanceof RawHTML
        ? v.html
        : escapeHTML(v);
    out += piece + (strings[i + 1] ?? '');
  });
  return new RawHTML(out);
}

export interface LayoutOptions {
  title: string;
  frontend: FrontendConfig;
  /** `{issuer path}` prefix for static assets, e.g. `/dex`. */
  basePath: string;
  body: RawHTML;
  /** Moves the browser on to this URL at once (meta refresh: a navigation of its own, not part of
   * the form submission that rendered the page). */
  refreshTo?: string;
}

export function layout(o: LayoutOptions): string {
  const product = o.frontend.issuer || 'Gatehouse';
  const logo = o.frontend.logoURL
    ? html`<img class="logo" src="${o.frontend.logoURL}" alt="${product}">`
    : html`<span class="product">${product}</span>`;
  return `<!doctype html>${
    html`<html lang="en" class="theme-${o.frontend.theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
${o.refreshTo !== undefined ? html`<meta http-equiv="refresh" content="0;url=${o.refreshTo}">` : raw('')}
<title>${o.title} – ${product}</title>
<link rel="stylesheet" href="${o.basePath}/static/style.css">
</head>
<body>
<header class="top">${logo}</header>
<main class="card" id="main">
<h1>${o.title}</h1>
${o.body}
</main>
</body>
</html>`.html
  }`;
}
