/**
 * zod schemas for the value formats several sections share (addresses, durations, URLs, names).
 * Each section's schema (sections/*.ts) is built from these.
 */
import { z } from 'zod';
import { parseDuration } from '@gatehouse/common';

/** `host:port` (`127.0.0.1:5556`, `[::1]:5556`, `:5556`, `0.0.0.0:5556`). */
export const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]/]*):([0-9]{1,5})$/;

export const address = z.string().refine(
  (s) => {
    const m = ADDRESS.exec(s);
    return m !== null && Number(m[2]) <= 65535;
  },
  { message: 'expected an address like "127.0.0.1:5556"' },
);

/** A Go duration (`24h`, `30m`, `500ms`), as seconds. */
export const duration = z.string({ error: 'expected a duration like "24h", "30m" or "3s"' }).transform((s, ctx) => {
  const seconds = parseDuration(s);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration; use a value like "24h", "30m" or "3s"` });
    return z.NEVER;
  }
  return seconds;
});

/** A positive duration (a lifetime). */
export const lifetime = duration.refine((n) => n > 0, { message: 'must be longer than 0s' });

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const envName = z.string().regex(ENV_NAME, { message: 'expected an environment variable name' });

function absoluteURL(protocols: string[]): z.ZodType<string> {
  return z.string().refine(
    (s) => {
      const u = URL.parse(s);
      return u !== null && protocols.includes(u.protocol) && u.hash === '';
    },
    { message: `expected an absolute ${protocols.map((p) => p.slice(0, -1)).join('/')} URL without a fragment` },
  );
}

export const httpURL = absoluteURL(['http:', 'https:']);

/** Redirect URIs may use private-use schemes (native apps, RFC 8252); never a fragment. */
export const redirectURI = z.string().refine(
  (s) => {
    const u = URL.parse(s);
    return u !== null && u.hash === '' && !s.includes('#') && /^[a-z][a-z0-9+.-]*:/i.test(s);
  },
  { message: 'expected an absolute URI without a fragment' },
);

/** DNS-1123 subdomain: usable verbatim as a Kubernetes object name and in URL paths. */
export const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
