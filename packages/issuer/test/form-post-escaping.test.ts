/**
 * The forms we render where oidc-provider would auto-submit one (oidc/patches/form-post.ts):
 * every value a client or browser chose reaches the page escaped, and the form still carries it
 * back unchanged.
 */
import { describe, expect, it } from 'vitest';
import { browse, type BrowseResult, CookieJar, formAction, TEST_CLIENT, testOAuth2 } from '../src/testing/index.ts';
import { authorizationRequest, REDIRECT, useIssuer } from './helpers.ts';

const HOSTILE = `"><script>alert('x')</script>&amp;`;
const ESCAPED = '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;';

/** The hidden fields of the page's form, decoded as a browser would. */
function hiddenFields(page: BrowseResult): Record<string, string> {
  const decode = (v: string) =>
    v
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  return Object.fromEntries(
    [...page.body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m) => [
      decode(m[1]!),
      decode(m[2]!),
    ]),
  );
}

function expectNoMarkupInjected(page: BrowseResult): void {
  expect(page.body).not.toMatch(/<script/i);
  expect(page.body).toContain(ESCAPED);
  expect(page.response.headers.get('content-security-policy')).not.toMatch(/script-src|sha256-/);
}

describe('form_post responses', () => {
  const env = useIssuer();

  it('a hostile state is escaped in the rendered form and posted back unchanged with the code', async () => {
    const { url } = await authorizationRequest(env.config, 'openid', {
      extra: { state: HOSTILE, response_mode: 'form_post' },
    });
    const page = await browse(new CookieJar(), url.toString(), { stopAt: REDIRECT });
    expect(page.status).toBe(200);
    expectNoMarkupInjected(page);
    expect(formAction(page)).toBe(REDIRECT);
    const fields = hiddenFields(page);
    expect(fields.state).toBe(HOSTILE);
    expect(fields.code).toBeTruthy();
    expect(fields.iss).toBe(env.issuer.issuerURL);
  });

  it('an error response (prompt=none without a session) is a 400 form with the hostile state escaped', async () => {
    const { url } = await authorizationRequest(env.config, 'openid', {
      extra: { state: HOSTILE, response_mode: 'form_post', prompt: 'none' },
    });
    const page = await browse(new CookieJar(), url.toString(), { stopAt: REDIRECT });
    expect(page.status).toBe(400);
    expectNoMarkupInjected(page);
    const fields = hiddenFields(page);
    expect(fields.error).toBe('login_required');
    expect(fields.state).toBe(HOSTILE);
  });
});

describe('GET /device?user_code= (the code in a link)', () => {
  const CLI = {
    ...TEST_CLIENT,
    id: 'kubectl',
    secret: undefined,
    public: true,
    name: 'kubectl',
    redirectURIs: ['http://127.0.0.1:8000/'],
  };
  const env = useIssuer(
    {
      staticClients: [TEST_CLIENT, CLI],
      overrides: {
        oauth2: testOAuth2({
          grantTypes: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        }),
      },
    },
    CLI.id,
    null,
  );

  it('a hostile user_code is escaped in our Continue form, which posts it back with the xsrf secret', async () => {
    const jar = new CookieJar();
    const page = await browse(jar, `${env.issuer.issuerURL}/device?user_code=${encodeURIComponent(HOSTILE)}`);
    expect(page.status).toBe(200);
    expectNoMarkupInjected(page);
    expect(page.body).toMatch(/<button[^>]*type="submit"/);
    const fields = hiddenFields(page);
    expect(fields.user_code).toBe(HOSTILE);
    expect(fields.xsrf).toMatch(/^[\w-]{10,}$/);
    const checked = await browse(jar, formAction(page), { form: fields });
    expect(checked.body).toContain('The code you entered is not valid');
  });
});
