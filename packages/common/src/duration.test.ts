import { describe, expect, it } from 'vitest';
import { parseDuration, parseDurationMs } from './duration.ts';

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
    // Go accepts digits on one side of the point only, and both spellings of micro.
    ['1.h', 3600],
    ['10μs', 0.00001],
    ['15m0s', 900],
  ])('%s = %d s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    '',
    '24',
    'h',
    '24 hours',
    '-1h',
    '+-1h',
    '++1h',
    '1d',
    '1h 30m',
    '.s',
    '1..5s',
    'ms',
    '1hh',
    '00',
    '1h x',
    '-0',
  ])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseDurationMs (oauth2-proxy options)', () => {
  it.each([
    ['168h', 168 * 3_600_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5ms', 2],
    ['0', 0],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('refuses what parseDuration refuses', () => {
    for (const bad of ['', '10', 'h', '1d', '1h x', '-1h']) expect(parseDurationMs(bad)).toBeUndefined();
  });
});
