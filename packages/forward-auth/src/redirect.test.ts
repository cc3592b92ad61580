import { describe, expect, it } from 'vitest';
import { RedirectValidator, hostMatches, parseHostRule } from './redirect.ts';
import { HOSTILE, LEGITIMATE, WHITELIST } from './redirect.cases.ts';

const validator = new RedirectValidator(WHITELIST);

describe('rd validation table', () => {
  it('has at least 60 hostile values', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(60);
  });

  it.each(HOSTILE.map((c) => [c.why, c.rd] as const))('rejects %s', (_why, rd) => {
    expect(validator.isValid(rd)).toBe(false);
    expect(validator.sanitize(rd)).toBe('/');
  });

  it.each(LEGITIMATE.map((c) => [c.why, c.rd] as const))('accepts %s', (_why, rd) => {
    expect(validator.isValid(rd)).toBe(true);
    expect(validator.sanitize(rd)).toBe(rd);
  });

  it('every accepted value resolves to the origin or a whitelisted host', () => {
    for (const c of [...HOSTILE, ...LEGITIMATE]) {
      const out = validator.sanitize(c.rd);
      const u = new URL(out, 'https://origin.invalid');
      const host = u.hostname;
      const ok = host === 'origin.invalid' || WHITELIST.some((w) => hostMatches(host, parseHostRule(w)));
      expect(ok, c.rd).toBe(true);
    }
  });

  it('rejects absolute URLs when nothing is whitelisted', () => {
    expect(new RedirectValidator([]).isValid('https://app.example.com/')).toBe(false);
    expect(new RedirectValidator([]).isValid('/ok')).toBe(true);
  });

  it('falls back for non-strings', () => {
    expect(validator.sanitize(undefined)).toBe('/');
    expect(validator.sanitize(['/a'])).toBe('/');
  });
});
