import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callbackParams, keptStateSchema, oauthErrorCode, pkceVerifierField, verifyCallbackState } from './callback.ts';
import { constantTimeEqual } from './constant-time.ts';
import { createPkce } from './pkce.ts';

const kept = keptStateSchema({ nonce: z.string().min(1), codeVerifier: pkceVerifierField() });
const good = { state: 'state-A', nonce: 'n', codeVerifier: 'v'.repeat(43) };
const query = (q: string) => new URLSearchParams(q);

describe('verifyCallbackState', () => {
  it('returns the kept data, typed, when the callback carries its state', () => {
    const data = verifyCallbackState(kept, good, query('state=state-A&code=c'));
    expect(data).toEqual(good);
    expect(data.nonce).toBe('n');
  });

  it.each([
    ['no kept data', undefined, 'state=state-A'],
    ['kept data of another shape', { state: 'state-A' }, 'state=state-A'],
    ['a PKCE verifier too short', { ...good, codeVerifier: 'short' }, 'state=state-A'],
    ['another login state', good, 'state=state-B'],
    ['a prefix of the state', good, 'state=state-'],
    ['no state', good, 'code=c'],
    ['an empty state', { ...good, state: '' }, 'state='],
  ])('refuses %s with invalid_state', (_name, data, q) => {
    expect(() => verifyCallbackState(kept, data, query(q))).toThrow(
      expect.objectContaining({ code: 'invalid_state', userMessage: expect.any(String) }),
    );
  });

  it('tells the user what the connector chose', () => {
    expect(() => verifyCallbackState(kept, good, query('state=x'), { mismatch: 'Not yours.' })).toThrow(
      expect.objectContaining({ userMessage: 'Not yours.' }),
    );
    expect(() => verifyCallbackState(kept, null, query('state=x'), { missing: 'Expired.' })).toThrow(
      expect.objectContaining({ userMessage: 'Expired.' }),
    );
  });
});

describe('callbackParams', () => {
  it('reads a form_post POST from its form and everything else from the query', () => {
    const url = new URL('https://issuer.test/callback?state=from-query');
    expect(callbackParams({ url, method: 'POST', form: { state: 'from-form' } }).get('state')).toBe('from-form');
    expect(callbackParams({ url, method: 'GET' }).get('state')).toBe('from-query');
    expect(callbackParams({ url, method: 'POST' }).get('state')).toBe('from-query');
  });
});

describe('constantTimeEqual', () => {
  it('is equality, for any lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
    expect(constantTimeEqual('é', 'e\u0301')).toBe(false);
  });
});

describe('createPkce', () => {
  it('makes S256 pairs: challenge = base64url(sha256(verifier)), fresh each time', () => {
    const a = createPkce();
    const b = createPkce();
    expect(a.method).toBe('S256');
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.challenge).toBe(createHash('sha256').update(a.verifier).digest('base64url'));
    expect(b.verifier).not.toBe(a.verifier);
    expect(pkceVerifierField().safeParse(a.verifier).success).toBe(true);
  });
});

describe('oauthErrorCode', () => {
  it('keeps an error code and drops markup or text', () => {
    expect(oauthErrorCode('access_denied')).toBe('access_denied');
    expect(oauthErrorCode('<script>alert(1)</script>')).toBe('scriptalert1script');
    expect(oauthErrorCode('x'.repeat(100))).toHaveLength(64);
  });
});
