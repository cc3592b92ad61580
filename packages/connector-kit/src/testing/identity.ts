import { expect } from 'vitest';
import type { Identity } from '../types.ts';

export interface IdentityShapeOptions {
  /** Allow a `userId` that looks like an email address (only if the connector is configured to key users on it). */
  userIdMayBeEmail?: boolean;
  /** The user must come back with groups (when the test user has some and groups were requested). */
  expectGroups?: boolean;
}

/** Rough test for "this is an email address": something@something.tld. */
export function looksLikeEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

/** Asserts the rules every `Identity` follows (see `types.ts`). */
export function assertIdentityShape(identity: Identity, options: IdentityShapeOptions = {}): void {
  expect(typeof identity.userId, 'userId is a string').toBe('string');
  expect(identity.userId.trim().length, 'userId is not empty').toBeGreaterThan(0);
  if (!options.userIdMayBeEmail) {
    expect(
      looksLikeEmail(identity.userId),
      `userId ${identity.userId} must be a stable upstream id, not an email`,
    ).toBe(false);
  }
  expect(typeof identity.username, 'username is a string').toBe('string');
  expect(identity.username.length, 'username is not empty').toBeGreaterThan(0);
  if (identity.email !== undefined) expect(typeof identity.email).toBe('string');
  if (identity.emailVerified !== undefined) expect(typeof identity.emailVerified).toBe('boolean');
  if (identity.preferredUsername !== undefined) expect(typeof identity.preferredUsername).toBe('string');
  if (identity.groups !== undefined || options.expectGroups) {
    expect(Array.isArray(identity.groups), 'groups is a list').toBe(true);
    for (const g of identity.groups ?? []) expect(typeof g, 'each group is a string').toBe('string');
    if (options.expectGroups) expect((identity.groups ?? []).length, 'the test user has groups').toBeGreaterThan(0);
  }
  // connectorData is stored as JSON by the issuer: it must survive a round trip unchanged.
  if (identity.connectorData !== undefined) {
    expect(JSON.parse(JSON.stringify(identity.connectorData)), 'connectorData is JSON-serialisable').toEqual(
      identity.connectorData,
    );
  }
}
