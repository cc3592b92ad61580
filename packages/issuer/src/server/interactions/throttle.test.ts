import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './throttle.ts';

describe('LoginThrottle', () => {
  it('blocks a username from one address after maxPerUser failures within the window, then lets it go', () => {
    let now = 1_000_000;
    const t = new LoginThrottle({ windowMs: 60_000, maxPerUser: 3, maxPerUserTotal: 10, maxPerAddress: 100, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(t.retryAfter('local', 'Alice', '10.0.0.1')).toBe(0);
      t.recordFailure('local', 'Alice', '10.0.0.1');
      now += 1000;
    }
    // Case and spaces do not make a new username.
    expect(t.retryAfter('local', ' alice ', '10.0.0.1')).toBe(57_000);
    // Someone failing on purpose does not lock the user out of other addresses.
    expect(t.retryAfter('local', 'alice', '10.0.0.2')).toBe(0);
    expect(t.retryAfter('ldap', 'alice', '10.0.0.1')).toBe(0);
    now += 57_000; // the oldest failure leaves the sliding window
    expect(t.retryAfter('local', 'alice', '10.0.0.1')).toBe(0);
  });

  it('a username has a higher ceiling across all addresses', () => {
    const t = new LoginThrottle({ windowMs: 60_000, maxPerUser: 3, maxPerUserTotal: 5, maxPerAddress: 100, now: () => 0 });
    for (let i = 0; i < 5; i++) t.recordFailure('local', 'alice', `10.0.0.${i}`);
    expect(t.retryAfter('local', 'alice', '10.0.9.9')).toBeGreaterThan(0);
    expect(t.retryAfter('local', 'bob', '10.0.9.9')).toBe(0);
  });

  it('blocks an address spraying many usernames', () => {
    const t = new LoginThrottle({ windowMs: 60_000, maxPerUser: 100, maxPerUserTotal: 100, maxPerAddress: 5, now: () => 0 });
    for (let i = 0; i < 5; i++) t.recordFailure('local', `user${i}`, '192.0.2.9');
    expect(t.retryAfter('local', 'fresh-user', '192.0.2.9')).toBeGreaterThan(0);
    expect(t.retryAfter('local', 'fresh-user', '192.0.2.10')).toBe(0);
  });

  it('a success clears the username but not the address', () => {
    const t = new LoginThrottle({ windowMs: 60_000, maxPerUser: 2, maxPerUserTotal: 2, maxPerAddress: 3, now: () => 0 });
    t.recordFailure('local', 'bob', 'a');
    t.recordFailure('local', 'bob', 'a');
    expect(t.retryAfter('local', 'bob', 'b')).toBeGreaterThan(0);
    t.recordSuccess('local', 'bob', 'a');
    expect(t.retryAfter('local', 'bob', 'a')).toBe(0);
    expect(t.retryAfter('local', 'bob', 'b')).toBe(0);
    t.recordFailure('local', 'carol', 'a');
    expect(t.retryAfter('local', 'dave', 'a')).toBeGreaterThan(0);
  });
});
