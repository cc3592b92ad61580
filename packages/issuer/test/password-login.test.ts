import { describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { browse, CookieJar, formAction, login, MOCK_CONNECTOR, testOAuth2 } from '../src/testing/index.ts';
import { decodeSubject } from '../src/server/grants/subject.ts';
import { ALICE, ALICE_PASSWORD, authorizationRequest, authorize, redeem, REDIRECT, useIssuer } from './helpers.ts';

async function authURL(config: client.Configuration, extra: Record<string, string> = {}) {
  return (await authorizationRequest(config, 'openid email', { extra })).url.toString();
}

describe('password form (local connector)', () => {
  const env = useIssuer({
    connectors: [],
    overrides: { enablePasswordDB: true, staticPasswords: [ALICE] },
  });

  it('logs in with the password form and issues tokens for the local user', async () => {
    const a = await authorize(env.config, 'openid email profile groups', {
      username: ALICE.email,
      password: ALICE_PASSWORD,
    });
    const tokens = await redeem(env.config, a);
    const claims = tokens.claims()!;
    expect(claims.email).toBe(ALICE.email);
    expect(claims.groups).toEqual(['admins']);
    expect(claims.preferred_username).toBe('alice');
    expect(decodeSubject(claims.sub)).toEqual({ userId: 'alice-0001', connectorId: 'local' });
  });

  it('renders an accessible form without scripts, with a strict CSP', async () => {
    const page = await browse(new CookieJar(), await authURL(env.config));
    expect(page.status).toBe(200);
    expect(page.body).toContain('<label for="login">Email Address</label>');
    expect(page.body).toContain('<label for="password">Password</label>');
    expect(page.body).not.toMatch(/<script|style=/i);
    const csp = page.response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self' http://127.0.0.1:9");
    const css = await fetch(`${env.issuer.issuerURL}/static/style.css`);
    expect(css.headers.get('content-type')).toContain('text/css');
  });

  it('says the same thing for a wrong password and an unknown user', async () => {
    const jar = new CookieJar();
    const page = await browse(jar, await authURL(env.config));
    const wrong = await browse(jar, formAction(page), { form: { login: ALICE.email, password: 'nope' } });
    const unknown = await browse(jar, formAction(page), { form: { login: 'mallory@example.com', password: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const message = (b: string) => /role="alert"[^>]*>([^<]*)</.exec(b)?.[1];
    expect(message(wrong.body)).toBe('Invalid username or password.');
    expect(message(unknown.body)).toBe(message(wrong.body));
    // The username is kept, escaped.
    const xss = await browse(jar, formAction(page), { form: { login: '"><script>x</script>', password: 'x' } });
    expect(xss.body).not.toContain('<script>x');
    expect(xss.body).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('throttles repeated failures for one username with a 429 and a wait time', async () => {
    const jar = new CookieJar();
    const page = await browse(jar, await authURL(env.config));
    const target = formAction(page);
    const user = 'bob@example.com';
    for (let i = 0; i < 5; i++) {
      const r = await browse(jar, target, { form: { login: user, password: `guess-${i}` } });
      expect(r.status).toBe(401);
    }
    const blocked = await browse(jar, target, { form: { login: user.toUpperCase(), password: 'guess-5' } });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatch(/Too many attempts, try again in \d+ minutes?\./);
    expect(Number(blocked.response.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another username from the same address is still allowed (the address budget is larger).
    const other = await browse(jar, target, { form: { login: ALICE.email, password: 'wrong' } });
    expect(other.status).toBe(401);
  });

  it('rejects an empty form and a non-form body', async () => {
    const jar = new CookieJar();
    const page = await browse(jar, await authURL(env.config));
    const empty = await browse(jar, formAction(page), { form: {} });
    expect(empty.status).toBe(400);
    const json = await fetch(formAction(page), {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: jar.header(formAction(page)) },
      body: '{"login":"a"}',
    });
    expect(json.status).toBe(415);
  });
});

describe('connector choice and approval', () => {
  const env = useIssuer({
    connectors: [MOCK_CONNECTOR],
    overrides: {
      enablePasswordDB: true,
      staticPasswords: [ALICE],
      oauth2: testOAuth2({ skipApprovalScreen: false }),
    },
  });

  it('shows a connector choice page listing every connector', async () => {
    const page = await browse(new CookieJar(), await authURL(env.config));
    expect(page.status).toBe(200);
    expect(page.body).toContain('Log in with Email');
    expect(page.body).toContain('Log in with Mock');
  });

  it('connector_id selects the connector and the approval screen grants access', async () => {
    const a = await authorize(env.config, 'openid email', { extra: { connector_id: 'mock' } });
    const tokens = await redeem(env.config, a);
    expect(decodeSubject(tokens.claims()!.sub)?.connectorId).toBe('mock');
  });

  it('an unknown connector_id is an OAuth error back to the client', async () => {
    const page = await browse(new CookieJar(), await authURL(env.config, { connector_id: 'nope' }), {
      stopAt: REDIRECT,
    });
    expect(new URL(page.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('denying on the approval screen returns access_denied to the client', async () => {
    const jar = new CookieJar();
    const done = await login(jar, await authURL(env.config, { connector_id: 'mock' }), {
      stopAt: REDIRECT,
      approve: false,
    });
    expect(new URL(done.location!).searchParams.get('error')).toBe('access_denied');
  });

  it('the approval page lists what the client asks for', async () => {
    const jar = new CookieJar();
    const page = await browse(jar, await authURL(env.config, { connector_id: 'mock' }));
    expect(page.body).toContain('Test Client');
    expect(page.body).toContain('View your email address');
    expect(page.body).toContain('name="approval" value="approve"');
  });
});
