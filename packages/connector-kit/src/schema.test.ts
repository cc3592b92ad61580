import { describe, expect, it } from 'vitest';
import { caData, httpsURL, redirectURI, requiredString, stringList } from './schema.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n';

describe('httpsURL', () => {
  it('accepts https and trims the trailing slash', () => {
    expect(httpsURL().parse('https://login.example.com/')).toBe('https://login.example.com');
  });
  it('accepts http only on loopback unless allowed', () => {
    expect(httpsURL().parse('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(httpsURL().safeParse('http://example.com').success).toBe(false);
    expect(httpsURL({ allowLoopbackHttp: false }).safeParse('http://127.0.0.1').success).toBe(false);
    expect(httpsURL({ allowHttp: true }).safeParse('http://example.com').success).toBe(true);
  });
  it('refuses garbage, credentials and fragments with a message', () => {
    for (const bad of ['not a url', 'https://u:p@example.com', 'https://example.com/#x', 'ftp://example.com']) {
      const r = httpsURL().safeParse(bad);
      expect(r.success, bad).toBe(false);
      if (!r.success) expect(r.error.issues[0]?.message).toMatch(/must/);
    }
  });
});

describe('redirectURI', () => {
  it('keeps the URI exactly and refuses fragments or non-http schemes', () => {
    expect(redirectURI().parse('https://a.test/cb/')).toBe('https://a.test/cb/');
    expect(redirectURI().safeParse('https://a.test/cb#x').success).toBe(false);
    expect(redirectURI().safeParse('javascript:alert(1)').success).toBe(false);
  });
});

describe('caData', () => {
  it('accepts PEM or base64 PEM and returns the certificates', () => {
    expect(caData().parse(PEM)).toHaveLength(1);
    expect(caData().parse(Buffer.from(PEM + PEM).toString('base64'))).toHaveLength(2);
  });
  it('refuses text without a certificate', () => {
    expect(caData().safeParse('hello').success).toBe(false);
  });
});

describe('stringList / requiredString', () => {
  it('dedupes and refuses empty entries', () => {
    expect(stringList().parse(['a', 'b', 'a'])).toEqual(['a', 'b']);
    expect(stringList().safeParse(['a', '']).success).toBe(false);
  });
  it('refuses an empty string without echoing it', () => {
    const r = requiredString('clientSecret').safeParse('');
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.message).toContain('clientSecret');
  });
});
