import { describe, expect, it } from 'vitest';
import { expandEnvEnabled, expandString, expandTree } from './env.ts';

const env: Record<string, string> = { HOME: '/home/k', A: 'x', A_1: 'y', '1': 'one' };
const lookup = (n: string) => env[n];

describe('expandString (Go os.ExpandEnv rules)', () => {
  it.each([
    ['$HOME/bin', '/home/k/bin'],
    ['${HOME}/bin', '/home/k/bin'],
    ['$A_1-$A', 'y-x'],
    ['${A}_1', 'x_1'],
    ['$UNSET|', '|'],
    ['pa$$word', 'paword'], // "$$" is the shell's PID variable: unset, so it vanishes (Dex behaves the same)
    ['cost$', 'cost$'], // a trailing "$" stays
    ['a$.b', 'a$.b'], // "$" not followed by a name stays
    ['a${}b', 'ab'], // bad syntax is eaten
    ['a${A', 'aA'], // unterminated "${" is eaten
    ['$1st', 'onest'], // a digit is a one-character special name
    ['${1}', 'one'],
    ['no vars', 'no vars'],
  ])('%j → %j', (input, output) => {
    expect(expandString(input, lookup)).toBe(output);
  });

  it('reports each variable and whether it is set', () => {
    const seen: Array<[string, boolean]> = [];
    expandString('$A ${B}', lookup, (n, s) => seen.push([n, s]));
    expect(seen).toEqual([
      ['A', true],
      ['B', false],
    ]);
  });
});

describe('expandTree', () => {
  it('expands string values at any depth, including arrays, but not keys', () => {
    const out = expandTree({ $A: '$A', list: ['$HOME', 1, true, null], nested: { deep: '${A}' } }, lookup);
    expect(out).toEqual({ $A: 'x', list: ['/home/k', 1, true, null], nested: { deep: 'x' } });
  });
});

describe('expandEnvEnabled', () => {
  it('defaults to on; DEX_EXPAND_ENV and GATEHOUSE_EXPAND_ENV switch it (Gatehouse wins)', () => {
    expect(expandEnvEnabled({})).toBe(true);
    expect(expandEnvEnabled({ DEX_EXPAND_ENV: 'false' })).toBe(false);
    expect(expandEnvEnabled({ DEX_EXPAND_ENV: '0' })).toBe(false);
    expect(expandEnvEnabled({ DEX_EXPAND_ENV: 'true' })).toBe(true);
    expect(expandEnvEnabled({ DEX_EXPAND_ENV: 'false', GATEHOUSE_EXPAND_ENV: 'true' })).toBe(true);
    expect(expandEnvEnabled({ GATEHOUSE_EXPAND_ENV: 'F' })).toBe(false);
  });
});
