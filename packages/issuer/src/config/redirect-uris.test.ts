import { describe, expect, it } from 'vitest';
import { isNativeClient, redirectURIProblems } from './redirect-uris.ts';

const client = (isPublic: boolean, redirectURIs: string[], postLogoutRedirectURIs: string[] = []) => ({
  public: isPublic,
  redirectURIs,
  postLogoutRedirectURIs,
});
const where = (c: ReturnType<typeof client>) => redirectURIProblems(c).map((p) => `${p.field}[${p.index}]`);

describe('redirect URI rules', () => {
  it('a public client may mix a private-use scheme with loopback http and claimed https', () => {
    const mobile = client(
      true,
      [
        'com.example.app:/oauth2redirect',
        'http://127.0.0.1:8000/cb',
        'http://localhost/cb',
        'http://[::1]:9/cb',
        'https://app.example.com/cb',
      ],
      ['com.example.app:/logout'],
    );
    expect(redirectURIProblems(mobile)).toEqual([]);
    expect(isNativeClient(mobile)).toBe(true);
  });

  it('web clients (confidential, or public with http(s) only) may use any http(s) host', () => {
    const web = client(false, ['http://app.internal/cb', 'https://localhost/cb'], ['http://app.internal/']);
    expect(redirectURIProblems(web)).toEqual([]);
    expect(isNativeClient(web)).toBe(false);
    expect(redirectURIProblems(client(true, ['http://spa.internal/cb', 'https://localhost:8443/cb']))).toEqual([]);
    expect(isNativeClient(client(true, ['http://127.0.0.1:8000/cb']))).toBe(false);
  });

  it('a confidential client may only use http(s)', () => {
    const bad = client(false, ['http://127.0.0.1:5555/callback', 'com.example.app:/cb'], ['myapp:/bye']);
    expect(where(bad)).toEqual(['redirectURIs[1]', 'postLogoutRedirectURIs[0]']);
    expect(redirectURIProblems(bad)[0]?.message).toContain('public: true');
  });

  it('never a scheme that runs or embeds content, public or not', () => {
    for (const uri of [
      'javascript://127.0.0.1/%0aalert(document.domain)',
      'JavaScript:alert(1)',
      'data:text/html,hi',
      'vbscript:x',
      'blob:https://a/b',
      'file:///etc/passwd',
      'about:blank',
    ]) {
      expect(where(client(false, [uri])), uri).toEqual(['redirectURIs[0]']);
      expect(where(client(true, [uri])), uri).toEqual(['redirectURIs[0]']);
      expect(where(client(true, [], [uri])), uri).toEqual(['postLogoutRedirectURIs[0]']);
    }
  });

  it('with a private-use scheme, http must be loopback and https must not be (oidc-provider native rules)', () => {
    const bad = client(
      true,
      ['com.example.app:/cb', 'http://app.internal/cb', 'https://127.0.0.1/cb'],
      ['http://app.internal/'],
    );
    expect(where(bad)).toEqual(['redirectURIs[1]', 'redirectURIs[2]', 'postLogoutRedirectURIs[0]']);
    // The private-use scheme may come from the post-logout list alone.
    expect(where(client(true, ['http://app.internal/cb'], ['com.example.app:/bye']))).toEqual(['redirectURIs[0]']);
  });

  it('rejects what is not an absolute URI or has a fragment (store clients are not schema-checked)', () => {
    expect(where(client(true, ['not a uri', '/relative', 'http://x/cb#frag']))).toEqual([
      'redirectURIs[0]',
      'redirectURIs[1]',
      'redirectURIs[2]',
    ]);
  });
});
