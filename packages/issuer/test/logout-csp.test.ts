/**
 * The logout confirmation pages' CSP: strict (no script, no framing, no <base>), with a form-action that lets the
 * post-logout redirect lead on to other origins on the client's scheme (forward-auth's rd → login → upstream IdP).
 * Chromium applies form-action to every redirect after a submission; that is exercised in the e2e suite. Here: the
 * headers, and that the confirmation → post_logout_redirect_uri → another origin chain completes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import type { RunningIssuer } from '../src/index.ts';
import {
  browse,
  CookieJar,
  formAction,
  startTestIssuer,
  TEST_CLIENT,
  testOAuth2,
  type BrowseResult,
} from '../src/testing/index.ts';
import { contentSecurityPolicy, handoffFormTargets } from '../src/server/http/security.ts';
import { authorize, discover, redeem, REDIRECT } from './helpers.ts';

const csp = (formAction: string) =>
  `default-src 'none'; style-src 'self'; img-src 'self' data: https:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;

async function listen(
  handler: Parameters<typeof createServer>[1],
  host: string,
): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://${host}:${(server.address() as AddressInfo).port}` };
}

const hidden = (body: string): Record<string, string> =>
  Object.fromEntries(
    [...body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
      m[1],
      m[2]!.replace(/&amp;/g, '&'),
    ]),
  );

function expectLogoutHeaders(page: BrowseResult, postLogout: string): void {
  const header = page.response.headers.get('content-security-policy');
  // The issuer, the post-logout origin, and onward anywhere on its scheme (http: here, https: for an https client).
  expect(header).toBe(csp(`'self' ${new URL(postLogout).origin} http:`));
  expect(header).not.toMatch(/script-src|sha256-/);
  expect(page.response.headers.get('x-frame-options')).toBe('DENY');
  expect(page.body).not.toMatch(/<script|style=/i);
}

describe('logout pages: CSP and the post-logout redirect chain', () => {
  let issuer: RunningIssuer;
  let config: client.Configuration;
  let rp: { server: Server; origin: string };
  let upstream: { server: Server; origin: string };
  let postLogout: string;
  const upstreamHits: string[] = [];

  beforeAll(async () => {
    // "Upstream IdP" on another origin (localhost vs 127.0.0.1), and the RP whose post-logout page sends the
    // browser on to it, as forward-auth's rd → /oauth2/start → /dex/auth → Entra does.
    upstream = await listen((req, res) => {
      upstreamHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/html' }).end('<title>Upstream sign-in</title>');
    }, 'localhost');
    rp = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://rp');
      if (url.pathname !== '/logged-out') return void res.writeHead(404).end();
      res
        .writeHead(302, {
          location: `${upstream.origin}/authorize?after=${encodeURIComponent(url.searchParams.get('state') ?? '')}`,
        })
        .end();
    }, '127.0.0.1');
    postLogout = `${rp.origin}/logged-out`;
    issuer = await startTestIssuer({
      staticClients: [{ ...TEST_CLIENT, postLogoutRedirectURIs: [postLogout] }],
      overrides: { oauth2: testOAuth2({ skipApprovalScreen: false }) },
    });
    config = await discover(issuer);
  });
  afterAll(async () => {
    await issuer?.close();
    await new Promise((r) => rp?.server.close(r));
    await new Promise((r) => upstream?.server.close(r));
  });

  async function signedIn(): Promise<{ jar: CookieJar; idToken: string; accessToken: string }> {
    const jar = new CookieJar();
    const tokens = await redeem(config, await authorize(config, 'openid', { jar }));
    return { jar, idToken: tokens.id_token!, accessToken: tokens.access_token };
  }

  function endSessionURL(idToken: string | undefined, state: string): string {
    return client
      .buildEndSessionUrl(config, {
        ...(idToken ? { id_token_hint: idToken } : { client_id: TEST_CLIENT.id }),
        post_logout_redirect_uri: postLogout,
        state,
      })
      .toString();
  }

  it('the confirmation page: strict CSP whose form-action admits the onward chain; its form posts to the issuer', async () => {
    const { jar, idToken } = await signedIn();
    const page = await browse(jar, endSessionURL(idToken, 'csp'));
    expect(page.status).toBe(200);
    expect(page.body).toContain('Log out');
    expectLogoutHeaders(page, postLogout);
    expect(new URL(formAction(page)).origin).toBe(new URL(issuer.issuerURL).origin);
  });

  it('confirm → 303 to post_logout_redirect_uri → another origin: the chain completes and the session ends', async () => {
    const { jar, idToken, accessToken } = await signedIn();
    const page = await browse(jar, endSessionURL(idToken, 'bye'));
    const xsrf = hidden(page.body).xsrf;
    expect(xsrf).toBeTruthy();
    const confirmed = await browse(jar, formAction(page), { form: { xsrf: xsrf!, logout: 'yes' }, stopAt: postLogout });
    expect(confirmed.status).toBe(303);
    expect(confirmed.location).toBe(`${postLogout}?state=bye`);
    // What a browser does next, without the page's CSP in the way: follow every redirect to the other origin.
    const end = await fetch(confirmed.location!, { redirect: 'follow' });
    expect(end.status).toBe(200);
    expect(new URL(end.url).origin).toBe(upstream.origin);
    expect(await end.text()).toContain('Upstream sign-in');
    expect(upstreamHits).toContain('/authorize?after=bye');
    // The issuer session is gone: the grant's token is revoked, and another logout finds no session to confirm.
    expect((await client.tokenIntrospection(config, accessToken)).active).toBe(false);
    const again = await browse(jar, endSessionURL(idToken, 'again'));
    expect(again.body).toContain('Continue to finish logging out.');
    expect(again.body).not.toContain('Do you want to log out');
  });

  it('a logout without an issuer session: the same CSP on its form page, and it completes', async () => {
    const jar = new CookieJar();
    const page = await browse(jar, endSessionURL(undefined, 'nosession'));
    expect(page.status).toBe(200);
    expectLogoutHeaders(page, postLogout);
    expect(page.body).toMatch(/<button[^>]*type="submit"/);
    const done = await browse(jar, formAction(page), { form: hidden(page.body), stopAt: postLogout });
    expect(done.location).toBe(`${postLogout}?state=nosession`);
  });

  it('bad confirmations are 4xx pages with the strict CSP, never a 500 or a redirect', async () => {
    const { jar, idToken } = await signedIn();
    const page = await browse(jar, endSessionURL(idToken, 'bad'));
    const action = formAction(page);
    const forms: Array<Record<string, string>> = [
      { logout: 'yes' },
      { xsrf: 'forged', logout: 'yes' },
      { xsrf: 'x'.repeat(5000), logout: 'yes' },
    ];
    for (const form of forms) {
      const r = await browse(jar, action, { form, stopAt: postLogout });
      expect(r.location, JSON.stringify(form).slice(0, 60)).toBeUndefined();
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(r.body).not.toMatch(/<script|at .*\.ts:\d+/);
    }
    // A confirmation from another browser (no session cookie) is refused too.
    const stranger = await browse(new CookieJar(), action, {
      form: { xsrf: hidden(page.body).xsrf!, logout: 'yes' },
      stopAt: postLogout,
    });
    expect(stranger.location).toBeUndefined();
    expect(stranger.status).toBeGreaterThanOrEqual(400);
    expect(stranger.status).toBeLessThan(500);
  });

  it('the approval page: form-action the issuer and the redirect_uri origin (exact, see form-action.test.ts)', async () => {
    const request = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 'approval-csp',
      nonce: 'n',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const page = await browse(new CookieJar(), request.toString(), { stopAt: REDIRECT });
    expect(page.body).toContain('name="approval"');
    expect(page.response.headers.get('content-security-policy')).toBe(csp(`'self' ${new URL(REDIRECT).origin}`));
  });
});

describe('handoffFormTargets', () => {
  it('the issuer, the client origins, and their scheme: https clients never admit cleartext', () => {
    expect(handoffFormTargets(['https://auth.example.com/oauth2/callback', 'https://auth.example.com/other'])).toEqual([
      'self',
      'https://auth.example.com',
      'https:',
    ]);
    expect(contentSecurityPolicy(handoffFormTargets(['https://auth.example.com/cb']))).toContain(
      "form-action 'self' https://auth.example.com https:;",
    );
    // http: also matches https, so one http URL makes it http:.
    expect(handoffFormTargets(['https://a.example/cb', 'http://127.0.0.1:8000/cb'])).toEqual([
      'self',
      'https://a.example',
      'http://127.0.0.1:8000',
      'http:',
    ]);
  });

  it('odd URLs add nothing: no client URL means the issuer only', () => {
    expect(handoffFormTargets([])).toEqual(['self']);
    expect(
      handoffFormTargets(['javascript:alert(1)', 'not a url', 'data:text/html,x', "https://x.example/';"]),
    ).toEqual(['self', 'https://x.example', 'https:']);
    expect(contentSecurityPolicy(handoffFormTargets(['javascript:alert(1)']))).toContain("form-action 'self';");
  });
});
