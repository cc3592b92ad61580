import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

describe('parseDuration (Go time.ParseDuration syntax)', () => {
  it.each([
    ['24h', 86400],
    ['30m', 1800],
    ['3s', 3],
    ['2160h', 2160 * 3600],
    ['1h30m', 5400],
    ['1.5h', 5400],
    ['500ms', 0.5],
    ['1m0.5s', 60.5],
    ['250us', 0.00025],
    ['10µs', 0.00001],
    ['0', 0],
    ['0s', 0],
    ['.5s', 0.5],
    ['+1h', 3600],
  ])('%s = %d s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '24', 'h', '24 hours', '-1h', '+-1h', '++1h', '1d', '1h 30m', '.s', '1..5s', 'ms', '1hh'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
