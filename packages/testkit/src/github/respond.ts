import type { IncomingMessage, ServerResponse } from 'node:http';

export const DOCS = 'https://docs.github.com/rest';

export function sendJSON(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end();
}

export function sendHTML(res: ServerResponse, status: number, title: string, bodyHTML: string): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHTML(title)}</title></head><body>${bodyHTML}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

export function escapeHTML(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

export function notFound(res: ServerResponse): void {
  sendJSON(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
}

const MAX_BODY = 64 * 1024;

export class BodyTooLarge extends Error {}

/** Reads a request body (at most 64 KiB). */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new BodyTooLarge('request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Form or JSON body fields, as GitHub's token endpoint accepts either (plus query parameters). */
export function parseFields(
  contentType: string | undefined,
  body: string,
  query: URLSearchParams,
): Record<string, string> | undefined {
  const fields: Record<string, string> = {};
  for (const [k, v] of query) fields[k] = v;
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (body.trim() === '') return fields;
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') fields[k] = v;
    return fields;
  }
  for (const [k, v] of new URLSearchParams(body)) fields[k] = v;
  return fields;
}
