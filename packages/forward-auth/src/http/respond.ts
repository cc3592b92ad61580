// Small response writers. Every answer has an exact Content-Length: nginx keeps its upstream connection open only
// for complete, non-chunked replies.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const NO_CACHE: readonly string[] = [
  'Cache-Control',
  'no-cache, no-store, must-revalidate, max-age=0',
  'Expires',
  'Thu, 01 Jan 1970 00:00:00 GMT',
  'X-Accel-Expires',
  '0',
];

/**
 * Every HTML page: no script, no inline style, only our own stylesheet, never framed, no base or form target
 * elsewhere, no referrer (the URL can carry state or a code), never cached.
 */
export const HTML_HEADERS: readonly string[] = [
  'Content-Type',
  'text/html; charset=utf-8',
  'Content-Security-Policy',
  "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Frame-Options',
  'DENY',
  'X-Content-Type-Options',
  'nosniff',
  'Referrer-Policy',
  'no-referrer',
  ...NO_CACHE,
];

/** Served at `<proxy_prefix>/static/gatehouse.css`; pages link it relatively (they all live under the prefix). */
export const STYLESHEET =
  'body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}' +
  'h1{font-size:1.6em}small{color:#666}\n';
const STYLESHEET_HREF = 'static/gatehouse.css';

function headerList(base: readonly string[], setCookie: readonly string[] | undefined): string[] {
  const out = [...base];
  if (setCookie !== undefined) for (const c of setCookie) out.push('Set-Cookie', c);
  return out;
}

export function sendEmpty(res: ServerResponse, status: number, setCookie?: readonly string[]): void {
  res.writeHead(status, headerList(['Content-Length', '0'], setCookie));
  res.end();
}

export function sendJSON(res: ServerResponse, status: number, body: unknown, setCookie?: readonly string[]): void {
  const data = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(
    status,
    headerList(
      [
        'Content-Type',
        'application/json',
        'Content-Length',
        String(data.length),
        'X-Content-Type-Options',
        'nosniff',
        ...NO_CACHE,
      ],
      setCookie,
    ),
  );
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  const data = Buffer.from(text, 'utf8');
  res.writeHead(status, [
    'Content-Type',
    contentType,
    'Content-Length',
    String(data.length),
    'X-Content-Type-Options',
    'nosniff',
    ...NO_CACHE,
  ]);
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

export function redirect(res: ServerResponse, location: string, setCookie?: readonly string[]): void {
  res.writeHead(302, headerList(['Location', location, 'Content-Length', '0', ...NO_CACHE], setCookie));
  res.end();
}

export function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An HTML page: `body` is trusted markup (callers escape what they interpolate). */
export function sendHTML(
  res: ServerResponse,
  status: number,
  title: string,
  body: string,
  setCookie?: readonly string[],
  extra: readonly string[] = [],
): void {
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHTML(title)}</title>` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="stylesheet" href="${STYLESHEET_HREF}"></head>` +
    `<body>${body}</body></html>`;
  const data = Buffer.from(html, 'utf8');
  res.writeHead(status, headerList([...HTML_HEADERS, ...extra, 'Content-Length', String(data.length)], setCookie));
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

/** A readable error page. `detail` must not carry secrets; it is escaped. */
export function sendErrorPage(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  options: { retryURL?: string; setCookie?: readonly string[]; headers?: readonly string[] } = {},
): void {
  const retry =
    options.retryURL === undefined ? '' : `<p><a href="${escapeHTML(options.retryURL)}">Sign in again</a></p>`;
  sendHTML(
    res,
    status,
    title,
    `<h1>${escapeHTML(title)}</h1><p>${escapeHTML(detail)}</p>${retry}<p><small>${status}</small></p>`,
    options.setCookie,
    options.headers,
  );
}

/** 405 with `Allow`, as an HTML page. */
export function sendMethodNotAllowed(res: ServerResponse, allow: readonly string[]): void {
  sendErrorPage(res, 405, 'Method not allowed', `This endpoint accepts ${allow.join(', ')} only.`, {
    headers: ['Allow', allow.join(', ')],
  });
}

/** Whether the request's method is one of `allow`; answers 405 otherwise. */
export function allowMethods(req: IncomingMessage, res: ServerResponse, allow: readonly string[]): boolean {
  if (allow.includes(req.method ?? '')) return true;
  sendMethodNotAllowed(res, allow);
  return false;
}

/** The stylesheet the pages link. */
export function sendStylesheet(res: ServerResponse): void {
  const data = Buffer.from(STYLESHEET, 'utf8');
  res.writeHead(200, [
    'Content-Type',
    'text/css; charset=utf-8',
    'Content-Length',
    String(data.length),
    'X-Content-Type-Options',
    'nosniff',
    'Cache-Control',
    'public, max-age=3600',
  ]);
  res.end(res.req.method === 'HEAD' ? undefined : data);
}
