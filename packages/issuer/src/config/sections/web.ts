/** `web`: the listeners, TLS files, extra headers, CORS origins and trusted proxies. */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { parseCIDR } from '@gatehouse/common';
import { type RuleContext, type Raw, arr, rec, resolveFile, str } from '../context.ts';
import { address } from '../values.ts';

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** web.http or web.https is required: checked in checkWeb with Dex's wording. */
export const webSchema = z.object({
  /** `host:port` for plain HTTP, e.g. `127.0.0.1:5556` or `0.0.0.0:5556`. */
  http: address.optional(),
  https: address.optional(),
  /** Resolved against the config file's folder (checkWeb). */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  /** Extra response headers (Dex: Content-Security-Policy, X-Frame-Options, ...). */
  headers: z
    .record(
      z.string().regex(headerName, { message: 'not a valid HTTP header name' }),
      z.string().regex(/^[^\r\n]*$/, { message: 'header values cannot contain line breaks' }),
    )
    .default({}),
  /** CORS origins allowed on discovery, keys, token, userinfo ("*" allowed). */
  allowedOrigins: z.array(z.string().min(1)).default([]),
  /** Gatehouse: proxies whose X-Forwarded-* headers are trusted (IPs or CIDRs). Default none. */
  trustedProxies: z.array(z.string().min(1)).default([]),
});

export type WebConfig = z.output<typeof webSchema>;

/** Rules across web's keys; returns the TLS files resolved against the config file's folder. */
export function checkWeb(file: Raw, ctx: RuleContext): Pick<WebConfig, 'tlsCert' | 'tlsKey'> {
  const web = rec(file, 'web');
  const https = str(web, 'https');
  const files: Pick<WebConfig, 'tlsCert' | 'tlsKey'> = {};
  if (web?.['http'] === undefined && web?.['https'] === undefined) {
    ctx.errors.push({ path: 'web', message: 'must supply a HTTP/HTTPS address to listen on (web.http or web.https)' });
  }
  for (const key of ['tlsCert', 'tlsKey'] as const) {
    const value = str(web, key);
    if (https !== undefined && web?.[key] === undefined) {
      ctx.errors.push({
        path: `web.${key}`,
        message:
          key === 'tlsCert'
            ? 'no cert specified for HTTPS (required with web.https)'
            : 'no private key specified for HTTPS (required with web.https)',
      });
    }
    if (value !== undefined) {
      const resolved = resolveFile(ctx.baseDir, value);
      if (!existsSync(resolved)) ctx.errors.push({ path: `web.${key}`, message: `file not found: ${resolved}` });
      files[key] = resolved;
      if (https === undefined) ctx.warnings.push({ path: `web.${key}`, message: 'ignored: web.https is not set' });
    }
  }
  arr(web, 'trustedProxies').forEach((p, i) => {
    if (typeof p === 'string' && parseCIDR(p) === undefined) {
      ctx.errors.push({
        path: `web.trustedProxies[${i}]`,
        message: 'expected an IP address or CIDR (e.g. "10.0.0.0/8")',
      });
    }
  });
  arr(web, 'allowedOrigins').forEach((o, i) => {
    if (typeof o !== 'string' || o === '*') return;
    const u = URL.parse(o);
    if (u === null || u.origin === 'null' || u.origin !== o.replace(/\/$/, '')) {
      ctx.errors.push({
        path: `web.allowedOrigins[${i}]`,
        message: 'expected "*" or an origin like "https://app.example.com"',
      });
    }
  });
  return files;
}
