/**
 * form-action on the login pages admits exact origins only: the issuer and the client's
 * redirect_uri origin, never a whole scheme. That holds in a browser because no form of ours
 * leads into a redirect chain (Chromium applies form-action to every redirect after a
 * submission, and the client sends the browser on to hosts we cannot list, e.g. `rd` on the app
 * subdomain): a successful submission ends on a page of the issuer that moves on by itself.
 * The browser side (Chromium, nginx, rd on another host) is e2e/test/flow-sqlite.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  browse,
  type BrowseResult,
  CookieJar,
  formAction,
  MOCK_CONNECTOR,
  TEST_CLIENT,
  testOAuth2,
} from '../src/testing/index.ts';
import {
  ALICE,
  ALICE_PASSWORD,
  authorizationRequest,
  outcome,
  redeem,
  REDIRECT,
  useIssuer,
  isAuthorization,
} from './helpers.ts';

const HTTPS_CLIENT = { ...TEST_CLIENT, id: 'https-client', redirectURIs: ['https://auth.example.com/oauth2/callback'] };
const formActionOf = (r: BrowseResult) =>
  /form-action ([^;]*)/.exec(r.response.headers.get('content-security-policy') ?? '')?.[1];
const refreshOf = (r: BrowseResult) =>
  /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(r.body)?.[1]?.replace(/&amp;/g, '&');

describe('form-action on the password and approval pages: exact origins', () => {
  const env = useIssuer({
    connectors: [MOCK_CONNECTOR],
    staticClients: [TEST_CLIENT, HTTPS_CLIENT],
    overrides: { enablePasswordDB: true, staticPasswords: [ALICE], oauth2: testOAuth2({ skipApprovalScreen: false }) },
  });
  const issuerOrigin = () => new URL(env.issuer.issuerURL).origin;

  async function passwordPage(redirectURI = REDIRECT, clientId = TEST_CLIENT.id) {
    const request = await authorizationRequest(env.config, 'openid email', {
      redirectURI,
      extra: { client_id: clientId, connector_id: 'local' },
    });
    const jar = new CookieJar();
    const page = await browse(jar, request.url.toString());
    expect(page.body).toContain('name="password"');
    return { jar, page, request };
  }

  it('the password page admits the issuer and the redirect_uri origin only, no scheme source', async () => {
    expect(formActionOf((await passwordPage()).page)).toBe("'self' http://127.0.0.1:9");
    expect(formActionOf((await passwordPage(HTTPS_CLIENT.redirectURIs[0], HTTPS_CLIENT.id)).page)).toBe(
      "'self' https://auth.example.com",
    );
  });

  it('a wrong password re-renders the form with the same exact form-action', async () => {
    const { jar, page } = await passwordPage();
    const wrong = await browse(jar, formAction(page), { form: { login: ALICE.email, password: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(formActionOf(wrong)).toBe("'self' http://127.0.0.1:9");
  });

  it('password → approval → approve: each submission ends on an issuer page, the chain to the client follows a refresh', async () => {
    const { jar, page, request } = await passwordPage();
    const approval = await browse(jar, formAction(page), {
      form: { login: ALICE.email, password: ALICE_PASSWORD },
      stopAt: REDIRECT,
    });
    expect(approval.status).toBe(200);
    expect(approval.body).toContain('name="approval"');
    expect(formActionOf(approval)).toBe("'self' http://127.0.0.1:9");

    // The form's navigation: one request, answered on the issuer without a redirect.
    const approved = await browse(jar, formAction(approval), {
      form: { approval: 'approve' },
      stopAt: REDIRECT,
      maxRedirects: 0,
    });
    expect(approved.status).toBe(200);
    expect(approved.response.headers.get('location')).toBeNull();
    expect(approved.visited).toEqual([formAction(approval)]);
    expect(formActionOf(approved)).toBe("'self'");
    const next = refreshOf(approved);
    expect(next && new URL(next).origin).toBe(issuerOrigin());
    expect(approved.body).toContain(`href="${next!.replace(/&/g, '&amp;')}"`); // a link too, for the rare browser without refresh

    // A navigation of its own (no form): resume → the client's redirect_uri with a code.
    const done = await browse(jar, next!, { stopAt: REDIRECT });
    const o = outcome(request, done);
    if (!isAuthorization(o)) throw new Error(`stopped: ${o.status}`);
    expect((await redeem(env.config, o)).claims()?.email).toBe(ALICE.email);
  });

  it('deny on the approval page ends on an issuer page too, then access_denied at the client', async () => {
    const { jar, page } = await passwordPage();
    const approval = await browse(jar, formAction(page), {
      form: { login: ALICE.email, password: ALICE_PASSWORD },
      stopAt: REDIRECT,
    });
    const denied = await browse(jar, formAction(approval), {
      form: { approval: 'deny' },
      stopAt: REDIRECT,
      maxRedirects: 0,
    });
    expect(denied.status).toBe(200);
    const done = await browse(jar, refreshOf(denied)!, { stopAt: REDIRECT });
    expect(new URL(done.location!).searchParams.get('error')).toBe('access_denied');
  });
});

describe('form-action with the approval screen skipped', () => {
  const env = useIssuer({ connectors: [], overrides: { enablePasswordDB: true, staticPasswords: [ALICE] } });

  it('the password submission itself ends on an issuer page; the testing browser follows it like Chromium', async () => {
    const request = await authorizationRequest(env.config, 'openid email');
    const jar = new CookieJar();
    const page = await browse(jar, request.url.toString());
    const posted = await browse(jar, formAction(page), {
      form: { login: ALICE.email, password: ALICE_PASSWORD },
      stopAt: REDIRECT,
      maxRedirects: 0,
    });
    expect(posted.status).toBe(200);
    expect(posted.visited).toEqual([formAction(page)]);
    expect(new URL(refreshOf(posted)!).origin).toBe(new URL(env.issuer.issuerURL).origin);
    // `browse` follows the refresh (as a browser does), so the helpers still reach the client.
    const again = await authorizationRequest(env.config, 'openid email');
    const jar2 = new CookieJar();
    const page2 = await browse(jar2, again.url.toString());
    const done = await browse(jar2, formAction(page2), {
      form: { login: ALICE.email, password: ALICE_PASSWORD },
      stopAt: REDIRECT,
    });
    const o = outcome(again, done);
    if (!isAuthorization(o)) throw new Error(`stopped: ${o.status}`);
    expect((await redeem(env.config, o)).claims()?.email).toBe(ALICE.email);
  });
});
