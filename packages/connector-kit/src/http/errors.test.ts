import { describe, expect, it } from 'vitest';
import { statusError } from './errors.ts';
import { parseJSONBody, parseJSONObject } from './json.ts';
import { parseRetryAfter } from './retry-after.ts';

const call = { upstream: 'Example', what: 'GET /thing' };

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, never below 0', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12);
    expect(parseRetryAfter(' 7 ', now)).toBe(7);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter(new Date(0).toUTCString(), now)).toBe(0);
    for (const absent of [undefined, null, '', 'soon', '-5', '1.5'])
      expect(parseRetryAfter(absent, now)).toBeUndefined();
  });
});

describe('statusError', () => {
  it('makes 429/502/503/504 upstream_unavailable with retryAfter, other statuses upstream_error', () => {
    expect(statusError(call, 429, '5')).toMatchObject({
      code: 'upstream_unavailable',
      retryAfter: 5,
      userMessage: expect.stringContaining('limiting'),
    });
    for (const s of [502, 503, 504]) expect(statusError(call, s).code).toBe('upstream_unavailable');
    for (const s of [500, 501, 400, 418]) expect(statusError(call, s).code).toBe('upstream_error');
    expect(statusError(call, 503, null).retryAfter).toBeUndefined();
    expect(statusError(call, 500).message).toBe('GET /thing answered HTTP 500');
  });
});

describe('JSON bodies', () => {
  it('parses JSON, and objects only where an object is required', () => {
    expect(parseJSONBody(call, '[1]')).toEqual([1]);
    expect(parseJSONObject(call, '{"a":1}')).toEqual({ a: 1 });
    for (const bad of ['[]', 'null', '"s"', '<html>', '']) {
      expect(() => parseJSONObject(call, bad)).toThrow(
        expect.objectContaining({ code: 'upstream_error', message: 'GET /thing: the response is not a JSON object' }),
      );
    }
    expect(() => parseJSONBody(call, '<html>')).toThrow(
      expect.objectContaining({
        code: 'upstream_error',
        userMessage: 'Example sent an answer that could not be understood.',
      }),
    );
  });
});
