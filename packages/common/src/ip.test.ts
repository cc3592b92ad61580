import { describe, expect, it } from 'vitest';
import { AddressList, parseCIDR, unmapIPv4 } from './ip.ts';

describe('parseCIDR', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', family: 'ipv4', prefix: 8 }],
    ['192.168.1.1', { address: '192.168.1.1', family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', family: 'ipv4', prefix: 0 }],
    ['::1', { address: '::1', family: 'ipv6' }],
    ['fd00::/8', { address: 'fd00::', family: 'ipv6', prefix: 8 }],
    ['::/128', { address: '::', family: 'ipv6', prefix: 128 }],
  ])('reads %s', (text, expected) => {
    expect(parseCIDR(text)).toEqual(expected);
  });

  it.each([
    '',
    'localhost',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/8/9',
    '10.0.0.0/',
    '10.0.0.0/x',
    '10.0.0.0/0008',
    '10.0.0',
    ' 10.0.0.1',
  ])('refuses %j', (text) => {
    expect(parseCIDR(text)).toBeUndefined();
  });
});

describe('AddressList', () => {
  it('matches addresses and ranges of both families, IPv4-mapped peers as IPv4', () => {
    const list = new AddressList(['10.0.0.0/8', '::1', 'fd00::/8', 'not-an-ip', '1.2.3.4/99']);
    expect(list.has('10.1.2.3')).toBe(true);
    expect(list.has('::ffff:10.1.2.3')).toBe(true);
    expect(list.has('::FFFF:10.1.2.3')).toBe(true);
    expect(list.has('0:0:0:0:0:0:0:1')).toBe(true);
    expect(list.has('fdff::9')).toBe(true);
    expect(list.has('11.0.0.1')).toBe(false);
    expect(list.has('1.2.3.4')).toBe(false); // its entry did not parse: never trusted
    expect(list.has(undefined)).toBe(false);
    expect(list.has('')).toBe(false);
    expect(list.has('not-an-ip')).toBe(false);
  });

  it('trims entries (as a list option is written), not peers', () => {
    expect(new AddressList([' 127.0.0.1 ']).has('127.0.0.1')).toBe(true);
  });

  it('unmaps only IPv4-mapped IPv6', () => {
    expect(unmapIPv4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(unmapIPv4('::ffff:abcd')).toBe('::ffff:abcd');
    expect(unmapIPv4('10.0.0.1')).toBe('10.0.0.1');
  });
});
