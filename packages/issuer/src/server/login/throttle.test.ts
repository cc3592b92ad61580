import { describe, expect, it } from 'vitest';
import { DeviceCodeThrottle, LoginThrottle, SlidingWindow } from './throttle.ts';

describe('LoginThrottle', () => {
  it('blocks a username from one address after maxPerUser failures within the window, then lets it go', () => {
    let now = 1_000_000;
    const t = new LoginThrottle({
      windowMs: 60_000,
      maxPerUser: 3,
      maxPerUserTotal: 10,
      maxPerAddress: 100,
      now: () => now,
    });
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
    const t = new LoginThrottle({
      windowMs: 60_000,
      maxPerUser: 3,
      maxPerUserTotal: 5,
      maxPerAddress: 100,
      now: () => 0,
    });
    for (let i = 0; i < 5; i++) t.recordFailure('local', 'alice', `10.0.0.${i}`);
    expect(t.retryAfter('local', 'alice', '10.0.9.9')).toBeGreaterThan(0);
    expect(t.retryAfter('local', 'bob', '10.0.9.9')).toBe(0);
  });

  it('blocks an address spraying many usernames', () => {
    const t = new LoginThrottle({
      windowMs: 60_000,
      maxPerUser: 100,
      maxPerUserTotal: 100,
      maxPerAddress: 5,
      now: () => 0,
    });
    for (let i = 0; i < 5; i++) t.recordFailure('local', `user${i}`, '192.0.2.9');
    expect(t.retryAfter('local', 'fresh-user', '192.0.2.9')).toBeGreaterThan(0);
    expect(t.retryAfter('local', 'fresh-user', '192.0.2.10')).toBe(0);
  });

  it('a success clears the username but not the address', () => {
    const t = new LoginThrottle({
      windowMs: 60_000,
      maxPerUser: 2,
      maxPerUserTotal: 2,
      maxPerAddress: 3,
      now: () => 0,
    });
    t.recordFailure('local', 'bob', 'a');
    t.recordFailure('local', 'bob', 'a');
    expect(t.retryAfter('local', 'bob', 'b')).toBeGreaterThan(0);
    t.recordSuccess('local', 'bob', 'a');
    expect(t.retryAfter('local', 'bob', 'a')).toBe(0);
    expect(t.retryAfter('local', 'bob', 'b')).toBe(0);
    t.recordFailure('local', 'carol', 'a');
    expect(t.retryAfter('local', 'dave', 'a')).toBeGreaterThan(0);
  });

  it('reserve: at most maxPerUser reservations in flight; failures keep theirs, successes and abandoned checks give them back', () => {
    const now = 0;
    const t = new LoginThrottle({
      windowMs: 60_000,
      maxPerUser: 3,
      maxPerUserTotal: 10,
      maxPerAddress: 4,
      now: () => now,
    });
    const held = Array.from({ length: 10 }, () => t.reserve('local', 'alice', 'a'));
    expect(held.filter((r) => r.ok)).toHaveLength(3);
    expect(held[3]).toEqual({ ok: false, retryAfterMs: 60_000 });
    const [one, two, three] = held.map((r) => (r.ok ? r.attempt : undefined));
    one?.abandoned();
    one?.failed(); // settled once: the second call changes nothing
    expect(t.reserve('local', 'alice', 'a').ok).toBe(true); // takes the slot `one` gave back
    two?.failed();
    three?.succeeded(); // also clears alice's failures
    expect(t.retryAfter('local', 'alice', 'a')).toBe(0);
    // The address kept the failure of `two` and the reservation still in flight: 2 of 4.
    expect(t.reserve('local', 'bob', 'a').ok).toBe(true);
    expect(t.reserve('local', 'carol', 'a').ok).toBe(true);
    expect(t.reserve('local', 'dave', 'a').ok).toBe(false);
  });

  it('device codes: per address, then a global ceiling; a found code gives its reservation back', () => {
    const t = new DeviceCodeThrottle({
      windowMs: 60_000,
      maxDeviceCodesPerAddress: 2,
      maxDeviceCodesTotal: 3,
      now: () => 0,
    });
    const a = [t.reserve('a'), t.reserve('a'), t.reserve('a')];
    expect(a.map((r) => r.ok)).toEqual([true, true, false]);
    if (a[0]?.ok) a[0].attempt.succeeded();
    expect(t.reserve('a').ok).toBe(true);
    expect(t.reserve('b').ok).toBe(true);
    expect(t.reserve('c').ok).toBe(false); // 3 held globally
  });

  it('SlidingWindow: expired keys are swept once the map is large, and sweeping stays cheap while every key is live', () => {
    let now = 0;
    const w = new SlidingWindow(1000, () => now);
    for (let i = 0; i <= 100_000; i++) w.hit([`k${i}`]);
    now = 2000; // all of them expired
    w.hit(['fresh']);
    expect(w.size).toBe(1);
    // 300k live keys: a sweep per hit would be ~10^10 steps; amortised it is instant.
    const started = performance.now();
    for (let i = 0; i < 300_000; i++) w.hit([`live${i}`]);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(w.size).toBe(300_001);
  });
});
