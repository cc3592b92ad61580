import { describe, expect, it } from 'vitest';
import { parseLinkHeader } from './api.ts';
import { matchesEmailDomain, pickEmail } from './email.ts';
import { teamNames } from './groups.ts';
import { retryAfterSeconds } from './http.ts';

describe('Link header', () => {
  it('reads GitHub pagination links', () => {
    const links = parseLinkHeader(
      '<https://api.github.com/user/teams?per_page=100&page=2>; rel="next", <https://api.github.com/user/teams?per_page=100&page=3>; rel="last"',
    );
    expect(links.get('next')).toBe('https://api.github.com/user/teams?per_page=100&page=2');
    expect(links.get('last')).toBe('https://api.github.com/user/teams?per_page=100&page=3');
    expect(parseLinkHeader(null).size).toBe(0);
    expect(parseLinkHeader('garbage').size).toBe(0);
  });
});

describe('emails', () => {
  it('matches preferred domains per label', () => {
    expect(matchesEmailDomain('a@acme.example', 'acme.example')).toBe(true);
    expect(matchesEmailDomain('a@ACME.example', 'acme.example')).toBe(true);
    expect(matchesEmailDomain('a@eu.acme.example', '*.acme.example')).toBe(true);
    expect(matchesEmailDomain('a@acme.example', '*.acme.example')).toBe(false);
    expect(matchesEmailDomain('a@x.eu.acme.example', '*.acme.example')).toBe(false);
    expect(matchesEmailDomain('a@evilacme.example', 'acme.example')).toBe(false);
  });

  it('picks a verified preferred email, else the verified primary, never an unverified one', () => {
    const emails = [
      { email: 'p@home.example', primary: true, verified: true },
      { email: 'w@work.example', primary: false, verified: false },
      { email: 'w2@work.example', primary: false, verified: true },
    ];
    expect(pickEmail(emails, 'work.example', false)).toBe('w2@work.example');
    expect(pickEmail(emails, undefined, false)).toBe('p@home.example');
    expect(pickEmail([{ email: 'u@x.example', primary: true, verified: false }], undefined, false)).toBeUndefined();
    expect(pickEmail([{ email: 'u@x.example', primary: true }], undefined, false)).toBeUndefined();
    expect(pickEmail([{ email: 'u@x.example', primary: true }], undefined, true)).toBe('u@x.example');
  });
});

describe('team names', () => {
  const team = { name: 'Platform Team', slug: 'platform-team', organization: { login: 'acme' } };
  it('follows teamNameField', () => {
    expect(teamNames(team, 'name')).toEqual(['Platform Team']);
    expect(teamNames(team, 'slug')).toEqual(['platform-team']);
    expect(teamNames(team, 'both')).toEqual(['Platform Team', 'platform-team']);
    expect(teamNames({ ...team, name: 'sre', slug: 'sre' }, 'both')).toEqual(['sre']);
  });
});

describe('rate-limit headers', () => {
  it('prefers retry-after, then x-ratelimit-reset when nothing remains', () => {
    const now = 1_700_000_000_000;
    expect(retryAfterSeconds(new Headers({ 'retry-after': '30' }), now)).toBe(30);
    expect(
      retryAfterSeconds(
        new Headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 90) }),
        now,
      ),
    ).toBe(90);
    expect(
      retryAfterSeconds(
        new Headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 - 5) }),
        now,
      ),
    ).toBe(1);
    expect(retryAfterSeconds(new Headers({ 'x-ratelimit-remaining': '12' }), now)).toBeUndefined();
  });
});
