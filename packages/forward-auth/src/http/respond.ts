// Small response writers. Every answer has an exact Content-Length: nginx keeps its upstream connection open only
// for complete, non-chunked replies.
import type { ServerResponse } from 'node:http';

export const NO_CACHE: readonly string[] = [
  'Cache-Control', 'no-cache, no-store, must-revalidate, max-age=0',
  'Expires', 'Thu, 01 Jan 1970 00:00:00 GMT',
  'X-Accel-Expires', '0',
];

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
  res.writeHead(status, headerList(['Content-Type', 'application/json', 'Content-Length', String(data.length), ...NO_CACHE], setCookie));
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  const data = Buffer.from(text, 'utf8');
  res.writeHead(status, ['Content-Type', contentType, 'Content-Length', String(data.length), ...NO_CACHE]);
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

export function redirect(res: ServerResponse, location: string, setCookie?: readonly string[]): void {
  res.writeHead(302, headerList(['Location', location, 'Content-Length', '0', ...NO_CACHE], setCookie));
  res.end();
}

export function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A readable error page. `detail` must not carry secrets; it is escaped. */
export function sendErrorPage(res: ServerResponse, status: number, title: string, detail: string, options: { retryURL?: string; setCookie?: readonly string[] } = {}): void {
  const retry = options.retryURL === undefined ? '' : `<p><a href="${escapeHTML(options.retryURL)}">Sign in again</a></p>`;
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHTML(title)}</title>` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"></head><body style="font-family:sans-serif;max-width:40em;margin:4em auto">` +
    `<h1>${escapeHTML(title)}</h1><p>${escapeHTML(detail)}</p>${retry}<p><small>${status}</small></p></body></html>`;
  const data = Buffer.from(html, 'utf8');
  res.writeHead(
    status,
    headerList(['Content-Type', 'text/html; charset=utf-8', 'Content-Length', String(data.length), 'Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'", ...NO_CACHE], options.setCookie),
  );
  res.end(res.req.method === 'HEAD' ? undefined : data);
}
