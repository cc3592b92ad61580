/** `issuer`: the URL clients must use as the issuer, character for character. */
import { z } from 'zod';
import { type RuleContext, type Raw, str } from '../context.ts';
import { LOOPBACK_HOSTS } from '../redirect-uris.ts';

export const issuerSchema = z.string({ error: 'required: the issuer URL, e.g. "https://auth.example.com/dex"' }).refine(
  (s) => {
    const u = URL.parse(s);
    return (
      u !== null &&
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      !s.includes('?') &&
      !s.includes('#') &&
      u.username === '' &&
      u.password === ''
    );
  },
  { message: 'must be an absolute http(s) URL without query, fragment or credentials' },
);

export function checkIssuer(file: Raw, ctx: RuleContext): void {
  const issuer = str(file, 'issuer');
  if (issuer === undefined) return;
  const u = URL.parse(issuer);
  if (u?.protocol === 'http:' && !LOOPBACK_HOSTS.has(u.hostname)) {
    ctx.warnings.push({ path: 'issuer', message: 'plain http outside loopback: use https in production' });
  }
  if (issuer.endsWith('/') && u !== null && u.pathname !== '/') {
    ctx.warnings.push({ path: 'issuer', message: 'ends with "/": clients must use exactly this string as the issuer' });
  }
}
