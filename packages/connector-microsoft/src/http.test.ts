import { describe, expect, it } from 'vitest';
import { parseJSONObject, retryAfterSeconds, statusError } from './http.ts';
import { describeAadsts } from './msal.ts';

describe('retryAfterSeconds', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterSeconds('12')).toBe(12);
    expect(retryAfterSeconds(undefined)).toBeUndefined();
    expect(retryAfterSeconds('soon')).toBeUndefined();
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterSeconds(inAMinute)).toBeGreaterThanOrEqual(58);
    expect(retryAfterSeconds(new Date(0).toUTCString())).toBe(0);
  });
});

describe('statusError', () => {
  it('maps 429/502/503/504 to upstream_unavailable (with retryAfter) and other 5xx to upstream_error', () => {
    expect(statusError('x', 429, { 'retry-after': '5' })).toMatchObject({
      code: 'upstream_unavailable',
      retryAfter: 5,
    });
    for (const s of [502, 503, 504]) expect(statusError('x', s, {}).code).toBe('upstream_unavailable');
    expect(statusError('x', 500, {}).code).toBe('upstream_error');
  });
});

describe('parseJSONObject', () => {
  it('accepts objects only', () => {
    expect(parseJSONObject('x', '{"a":1}')).toEqual({ a: 1 });
    for (const bad of ['[]', 'null', '"s"', '<html>', ''])
      expect(() => parseJSONObject('x', bad)).toThrow(/not a JSON object/);
  });
});

describe('describeAadsts', () => {
  it('maps well-known AADSTS codes and OAuth errors to connector codes with our own words', () => {
    expect(describeAadsts(50105, 'access_denied')).toMatchObject({
      code: 'access_denied',
      userMessage: expect.stringContaining('AADSTS50105'),
    });
    expect(describeAadsts(65001, 'invalid_grant').code).toBe('access_denied');
    expect(describeAadsts(700016, 'unauthorized_client').code).toBe('upstream_error');
    expect(describeAadsts(501481, 'invalid_grant').code).toBe('invalid_state');
    expect(describeAadsts(undefined, 'temporarily_unavailable').code).toBe('upstream_unavailable');
    expect(describeAadsts(undefined, 'access_denied').code).toBe('access_denied');
    expect(describeAadsts(undefined, 'weird')).toMatchObject({
      code: 'upstream_error',
      userMessage: expect.stringContaining('weird'),
    });
    expect(describeAadsts(undefined, '<script>alert(1)</script>').userMessage).not.toContain('<');
  });
});
