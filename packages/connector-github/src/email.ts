import type { GitHubEmail } from './api.ts';

/** Dex's `preferredEmailDomain` match: same number of labels, each equal or `*` (case-insensitive). */
export function matchesEmailDomain(email: string, pattern: string): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  const domain = email
    .slice(at + 1)
    .toLowerCase()
    .split('.');
  const wanted = pattern.toLowerCase().split('.');
  return domain.length === wanted.length && wanted.every((label, i) => label === '*' || label === domain[i]);
}

/**
 * The email to vouch for: a verified one in the preferred domain, else the verified primary.
 * On GitHub Enterprise Server an email without a `verified` field counts as verified (as in Dex);
 * an explicit `verified: false` never does.
 */
export function pickEmail(
  emails: GitHubEmail[],
  preferredDomain: string | undefined,
  enterprise: boolean,
): string | undefined {
  const verified = emails.filter(
    (e) => e.verified === true || (enterprise && (e.verified === undefined || e.verified === null)),
  );
  if (preferredDomain !== undefined) {
    const preferred = verified.find((e) => matchesEmailDomain(e.email, preferredDomain));
    if (preferred) return preferred.email;
  }
  return verified.find((e) => e.primary === true)?.email;
}
