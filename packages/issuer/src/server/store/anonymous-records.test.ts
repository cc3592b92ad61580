import { describe, expect, it } from 'vitest';
import { AnonymousBudget } from './anonymous-records.ts';

describe('AnonymousBudget', () => {
  it('counts per address and in total within a window, tells each limit once per window, and starts over', () => {
    let now = 0;
    const told: string[] = [];
    const budget = new AnonymousBudget({
      windowMs: 1000,
      perAddress: 2,
      total: 3,
      now: () => now,
      onExhausted: (l) => told.push(l),
    });
    expect([budget.take('a'), budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(told).toEqual(['address']);
    expect(budget.take('b')).toBe(true);
    // The total is spent: everyone is refused until the window ends.
    expect([budget.take('c'), budget.take('d')]).toEqual([false, false]);
    expect(told).toEqual(['address', 'total']);
    now = 400;
    expect(budget.retryAfter()).toBe(1);
    now = 1000;
    expect([budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([true, true, false]);
    expect(told).toEqual(['address', 'total', 'address']);
  });
});
