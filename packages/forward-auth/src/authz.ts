// Who may pass: the global email-domain and group lists, and the per-Ingress query policy on /oauth2/auth.
import { hostMatches, parseHostRule } from './redirect.ts';

export interface Identity {
  readonly user: string;
  readonly email?: string;
  readonly preferredUsername?: string;
  readonly groups: readonly string[];
}

/** oauth2-proxy's email_domains: `*`, `example.com` (exact), `.example.com` / `*.example.com` (subdomains). */
export function emailDomainAllowed(email: string | undefined, domains: readonly string[]): boolean {
  if (domains.includes('*')) return true;
  if (email === undefined) return false;
  const e = email.toLowerCase();
  const at = e.indexOf('@');
  // Exactly one "@": `a@evil.com@allowed.com` must not pass on its suffix.
  if (at <= 0 || at !== e.lastIndexOf('@')) return false;
  const domain = e.slice(at + 1);
  return domains.some((entry) => {
    const d = entry.toLowerCase();
    if (d.startsWith('*.')) return domain.endsWith(d.slice(1));
    if (d.startsWith('.')) return domain.endsWith(d);
    return domain === d;
  });
}

export function groupsAllowed(groups: readonly string[], allowed: readonly string[]): boolean {
  return allowed.length === 0 || allowed.some((g) => groups.includes(g));
}

export interface QueryPolicy {
  readonly groups: readonly string[];
  readonly emails: readonly string[];
  readonly emailDomains: readonly string[];
}

function listParam(params: URLSearchParams, name: string): string[] {
  return params
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The per-request constraints of `/oauth2/auth?allowed_groups=…&allowed_emails=…&allowed_email_domains=…`. */
export function queryPolicy(query: string): QueryPolicy | undefined {
  if (query === '') return undefined;
  const params = new URLSearchParams(query);
  const policy = {
    groups: listParam(params, 'allowed_groups'),
    emails: listParam(params, 'allowed_emails').map((e) => e.toLowerCase()),
    emailDomains: listParam(params, 'allowed_email_domains'),
  };
  return policy.groups.length + policy.emails.length + policy.emailDomains.length === 0 ? undefined : policy;
}

/** Every constraint given must hold (groups: any one of them; emails: exact; domains: host rules). */
export function policyAllows(id: Identity, p: QueryPolicy): boolean {
  if (p.groups.length > 0 && !p.groups.some((g) => id.groups.includes(g))) return false;
  const email = id.email?.toLowerCase();
  if (p.emails.length > 0 && (email === undefined || !p.emails.includes(email))) return false;
  if (p.emailDomains.length > 0) {
    if (email === undefined) return false;
    const at = email.indexOf('@');
    if (at <= 0 || at !== email.lastIndexOf('@')) return false;
    const domain = email.slice(at + 1);
    if (!p.emailDomains.some((d) => d === '*' || hostMatches(domain, parseHostRule(d)))) return false;
  }
  return true;
}
