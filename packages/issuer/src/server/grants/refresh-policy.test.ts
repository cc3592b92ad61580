import { describe, expect, it } from 'vitest';
import { RefreshPolicy } from './refresh-policy.ts';

const DAY = 86400;
const at = (seconds: number) => ({ now: () => seconds * 1000 });
const policy = (
  refreshTokens: Partial<ConstructorParameters<typeof RefreshPolicy>[0]['refreshTokens']> = {},
  now = 1_000_000_000,
) =>
  new RefreshPolicy(
    {
      idTokens: DAY,
      authCodes: 600,
      refreshTokens: {
        disableRotation: false,
        reuseInterval: 3,
        absoluteLifetime: 90 * DAY,
        validIfNotUsedFor: 30 * DAY,
        ...refreshTokens,
      },
    },
    at(now),
  );

describe('RefreshPolicy', () => {
  it('the reuse window holds for reuseInterval seconds after consume, and never without rotation', () => {
    expect(policy().reuseInterval).toBe(3);
    expect(policy().inReuseWindow(1_000_000_000 - 3)).toBe(true);
    expect(policy().inReuseWindow(1_000_000_000 - 4)).toBe(false);
    expect(policy().inReuseWindow(undefined)).toBe(false);
    expect(policy({ disableRotation: true }).reuseInterval).toBe(0);
    expect(policy({ disableRotation: true }).inReuseWindow(1_000_000_000)).toBe(false);
    expect(policy({ reuseInterval: 0 }).inReuseWindow(1_000_000_000)).toBe(false);
  });

  it('a token lives for the idle window (with rotation), never past the absolute lifetime from its first issue', () => {
    expect(policy().tokenTTL(undefined)).toBe(30 * DAY);
    expect(policy().tokenTTL(1_000_000_000 - 89 * DAY)).toBe(DAY);
    expect(policy().tokenTTL(1_000_000_000 - 91 * DAY)).toBe(1);
    expect(policy({ disableRotation: true }).tokenTTL(undefined)).toBe(90 * DAY);
    expect(policy({ absoluteLifetime: 0, validIfNotUsedFor: 0 }).tokenTTL(undefined)).toBe(365 * DAY);
  });

  it('offline grants live as long as their refresh tokens may; others as long as their tokens', () => {
    expect(policy().grantTTL(true)).toBe(90 * DAY);
    expect(policy({ absoluteLifetime: 0 }).grantTTL(true)).toBe(365 * DAY);
    expect(policy().grantTTL(false)).toBe(DAY + 600);
  });

  it('refuses a grant unused past the idle window (from the later of lastUsed and the token iat) or past the absolute lifetime', () => {
    const now = 1_000_000_000;
    const fresh = { lastUsed: now - 31 * DAY, createdAt: now - 40 * DAY };
    expect(policy().expired(fresh, undefined)).toBe('refresh token expired (unused for too long)');
    expect(policy().expired(fresh, now - DAY)).toBeUndefined();
    // A token iat in the future is not a use.
    expect(policy().expired(fresh, now + DAY)).toBe('refresh token expired (unused for too long)');
    expect(policy().expired({ lastUsed: now, createdAt: now - 91 * DAY }, now)).toBe('refresh token expired');
    expect(
      policy({ absoluteLifetime: 0, validIfNotUsedFor: 0 }).expired({ lastUsed: 0, createdAt: 0 }, undefined),
    ).toBeUndefined();
  });
});
