import { isIP } from 'node:net';
import { z } from 'zod';

/** Zod helpers for fields most connectors share. Each gives a message that names what is expected. */

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** The URL, or an issue saying it is not an absolute URL. */
function parseAbsoluteURL(value: string, ctx: z.RefinementCtx): URL | undefined {
  try {
    return new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be an absolute URL, got ${JSON.stringify(value)}` });
    return undefined;
  }
}

export interface URLFieldOptions {
  /** Allow `http:` for loopback hosts (127.0.0.0/8, ::1, localhost): local test servers. Default true. */
  allowLoopbackHttp?: boolean;
  /** Allow `http:` for any host. Default false. */
  allowHttp?: boolean;
}

/** An absolute https URL (http only where allowed), without credentials or a fragment. Trailing `/` removed. */
export function httpsURL(options: URLFieldOptions = {}) {
  const { allowLoopbackHttp = true, allowHttp = false } = options;
  return z
    .string({ error: 'must be a URL string' })
    .superRefine((value, ctx) => {
      const url = parseAbsoluteURL(value, ctx);
      if (url === undefined) return;
      const httpOk = allowHttp || (allowLoopbackHttp && isLoopbackHost(url.hostname));
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && httpOk)) {
        ctx.addIssue({ code: 'custom', message: `must be an https URL, got ${url.protocol}` });
      }
      if (url.username !== '' || url.password !== '')
        ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
      if (url.hash !== '') ctx.addIssue({ code: 'custom', message: 'must not contain a fragment' });
    })
    .transform((value) => value.replace(/\/+$/, ''));
}

/** An OAuth2 redirect URI: absolute http(s) URL, no fragment, kept exactly as written (compared exactly). */
export function redirectURI() {
  return z.string({ error: 'must be a URL string' }).superRefine((value, ctx) => {
    const url = parseAbsoluteURL(value, ctx);
    if (url === undefined) return;
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `must be an http(s) URL, got ${url.protocol}` });
    }
    if (url.hash !== '' || value.includes('#'))
      ctx.addIssue({ code: 'custom', message: 'must not contain a fragment' });
  });
}

/** A non-empty string (secrets, ids). The message never echoes the value. */
export function requiredString(what = 'value') {
  return z.string({ error: `must be a string (${what})` }).min(1, { error: `must not be empty (${what})` });
}

/** A list of non-empty strings, duplicates removed (group names, org names...). */
export function stringList() {
  return z
    .array(z.string().min(1, { error: 'entries must not be empty' }), { error: 'must be a list of strings' })
    .transform((list) => [...new Set(list)]);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * CA certificates as PEM text, or that PEM base64-encoded (Kubernetes `caData` style).
 * Output: the list of PEM certificates found.
 */
export function caData() {
  return z.string({ error: 'must be PEM text or base64-encoded PEM' }).transform((value, ctx) => {
    const text = value.includes('-----BEGIN') ? value : Buffer.from(value.trim(), 'base64').toString('utf8');
    const certs = text.match(PEM_CERT) ?? [];
    if (certs.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must contain at least one PEM "BEGIN CERTIFICATE" block' });
      return z.NEVER;
    }
    return certs;
  });
}
