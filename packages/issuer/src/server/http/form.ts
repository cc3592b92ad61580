/** A small urlencoded-form reader for the issuer's own pages (bounded, first value wins). */
import type { Context } from 'koa';
import { PageError } from './errors.ts';

const LIMIT = 32 * 1024;

/** The raw urlencoded body (bounded; 415 for another content type, 413 past the limit). */
export async function readFormText(ctx: Context): Promise<string> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new PageError(415, 'Invalid request', 'This page only accepts its own form.');
  }
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > LIMIT) throw new PageError(413, 'Invalid request', 'The form was too large.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > LIMIT) throw new PageError(413, 'Invalid request', 'The form was too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readForm(ctx: Context): Promise<Record<string, string>> {
  const text = await readFormText(ctx);
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) if (!(k in out)) out[k] = v;
  return out;
}
