// The reference flow (seed scenarios 1 and 2, header spoofing, sign-out) as one suite, run once per store.
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppAnswer } from '../apps/identity-app.ts';
import { launchBrowser, TrafficRecorder, type Exchange, type TestBrowser } from './browser.ts';
import {
  appAnswer,
  formatTrace,
  loginWithEntra,
  screenshot,
  setCookieAttributes,
  step,
  type LoginResult,
} from './journey.ts';
import { CLIENT_ID, ENTRA_GROUP, ENTRA_USER, startStack, type Stack, type StackOptions } from './stack.ts';
import { APP_HOST, PUBLIC_HOST } from './edge.ts';

export interface FlowSuiteOptions {
  name: string;
  /** Stack options, resolved in beforeAll (a Kubernetes store needs its API server first). */
  stack: () => Promise<StackOptions>;
  /** Runs with the issuer's code outstanding (before the browser follows the 302 to /oauth2/callback). */
  atCallback?: (callbackURL: URL) => Promise<void>;
  /** Extra checks after the first login (e.g. what kubectl saw). */
  afterFirstLogin?: () => void | Promise<void>;
  afterAllExtra?: () => Promise<void>;
  /** The LDAP connector through the browser (adds the issuer's connector-choice page). */
  ldap: boolean;
  /** forward-auth cookie_refresh in ms (the stack must be started with the same value): tests refresh via nginx. */
  cookieRefreshMs?: number;
}

function printLatencies(title: string, exchanges: Exchange[]): void {
  console.log(
    `[e2e] ${title}: step latencies (request start -> response headers, as Chromium measured)\n${formatTrace(exchanges)}`,
  );
}

export function defineFlowSuite(o: FlowSuiteOptions): void {
  describe(`reference flow through nginx and Chromium (${o.name})`, () => {
    let stack: Stack;
    let browser: TestBrowser;
    let context: BrowserContext;
    let first: LoginResult;
    /** Callback URLs of the first login (they carry single-use codes): replayed later. */
    const used: { dexCallback?: string; oauth2Callback?: string } = {};

    beforeAll(async () => {
      stack = await startStack(await o.stack());
      browser = await launchBrowser({
        hosts: [PUBLIC_HOST, APP_HOST],
        trustedCerts: stack.browserTrust.certs,
        extraArgs: stack.browserTrust.args,
      });
      context = await browser.newContext();
    }, 240_000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
      await o.afterAllExtra?.();
    }, 60_000);

    it('scenario 1: first-time user, steps 1-20', async () => {
      const page = await context.newPage();
      const t0 = Date.now();
      first = await loginWithEntra(page, stack, {
        choice: o.ldap,
        shots: o.name,
        ...(o.atCallback ? { atCallback: o.atCallback } : {}),
      });
      console.log(`[e2e] ${o.name}: first login took ${Date.now() - t0} ms in total`);
      printLatencies(`${o.name} scenario 1`, first.exchanges);
      const ex = first.exchanges;
      const { origin, entra } = stack;

      // Steps 1-5: the protected URL; the auth subrequest answers 401; nginx sends the browser to /oauth2/start.
      const s1 = step(ex, 0, 'GET /gemini-rl -> 302 /oauth2/start', (e) => e.url.href === `${origin}/gemini-rl`);
      expect(s1.exchange.status).toBe(302);
      expect(s1.exchange.location?.href).toBe(`${origin}/oauth2/start?rd=/gemini-rl`);
      const authLog = await stack.edge.authChecksAfter(0, '/gemini-rl');
      expect(authLog[0]).toMatch(/"GET \/_gatehouse_auth" for="\/gemini-rl" auth=401/);

      // Steps 6-7: forward-auth starts the OIDC flow: state, PKCE, nonce.
      const s6 = step(ex, s1.index + 1, '/oauth2/start -> /dex/auth', (e) => e.url.pathname === '/oauth2/start');
      expect(s6.exchange.status).toBe(302);
      const dexAuth = s6.exchange.location;
      expect(dexAuth?.origin + (dexAuth?.pathname ?? '')).toBe(`${origin}/dex/auth`);
      const q = dexAuth?.searchParams ?? new URLSearchParams();
      expect(q.get('client_id')).toBe(CLIENT_ID);
      expect(q.get('response_type')).toBe('code');
      expect(q.get('redirect_uri')).toBe(`${origin}/oauth2/callback`);
      expect(q.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'email', 'profile']));
      expect(q.get('state')?.length).toBeGreaterThanOrEqual(22);
      expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.get('code_challenge_method')).toBe('S256');
      expect(q.get('nonce')?.length).toBeGreaterThanOrEqual(22);

      // Steps 8-10: the issuer checks the client and sends the browser to Entra's authorize endpoint.
      const s8 = step(
        ex,
        s6.index + 1,
        'GET /dex/auth',
        (e) => e.url.origin === origin && e.url.pathname === '/dex/auth',
      );
      expect([302, 303]).toContain(s8.exchange.status);
      const s10 = step(ex, s8.index, '302 to Entra authorize', (e) => e.location?.origin === entra.url);
      const authorize = s10.exchange.location as URL;
      expect(authorize.pathname).toBe(`/${entra.tenantId}/oauth2/v2.0/authorize`);
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${origin}/dex/callback`);
      expect(authorize.searchParams.get('response_type')).toBe('code');
      expect(authorize.searchParams.get('state')).toBeTruthy();
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.searchParams.get('nonce')).toBeTruthy();
      expect(authorize.searchParams.get('scope')?.split(' ')).toContain('openid');

      // Step 11: the Entra form (filled in the browser) returns to /dex/callback with code and state.
      const s11 = step(
        ex,
        s10.index + 1,
        'Entra sign-in -> /dex/callback',
        (e) => e.url.origin === entra.url && e.location?.pathname === '/dex/callback',
      );
      expect(s11.exchange.method).toBe('POST');
      expect(s11.exchange.location?.searchParams.get('code')).toBeTruthy();
      expect(s11.exchange.location?.searchParams.get('state')).toBe(authorize.searchParams.get('state'));

      // Steps 12-13: the issuer redeems the Entra code and redirects to /oauth2/callback with its own code.
      const s12 = step(
        ex,
        s11.index + 1,
        'GET /dex/callback',
        (e) => e.url.origin === origin && e.url.pathname === '/dex/callback',
      );
      expect(s12.exchange.status).toBeLessThan(400);
      const s13 = step(
        ex,
        s12.index,
        '302 to /oauth2/callback',
        (e) => e.location?.origin === origin && e.location.pathname === '/oauth2/callback',
      );
      const cb = (s13.exchange.location as URL).searchParams;
      expect(cb.get('code')).toBeTruthy();
      expect(cb.get('state')).toBe(q.get('state'));

      // Steps 14-15: forward-auth redeems the code, sets the session cookie and goes back to /gemini-rl.
      used.dexCallback = s12.exchange.url.href;
      used.oauth2Callback = (s13.exchange.location as URL).href;
      const s14 = step(
        ex,
        s13.index + 1,
        'GET /oauth2/callback',
        (e) => e.url.origin === origin && e.url.pathname === '/oauth2/callback',
      );
      expect(s14.exchange.status).toBe(302);
      expect(s14.exchange.location?.href).toBe(`${origin}/gemini-rl`);
      const session = s14.exchange.setCookies
        .map(setCookieAttributes)
        .find((c) => c.name.startsWith('_oauth2_proxy') && !c.name.endsWith('_csrf') && c.value !== '');
      expect(session, `Set-Cookie: ${s14.exchange.setCookies.join(' | ')}`).toBeDefined();
      expect(session?.attrs.has('secure')).toBe(true);
      expect(session?.attrs.has('httponly')).toBe(true);
      expect(session?.attrs.get('samesite')?.toLowerCase()).toBe('lax');
      expect(session?.attrs.get('path')).toBe('/');
      expect(session?.attrs.get('domain')?.replace(/^\./, '')).toBe(PUBLIC_HOST);

      // Steps 16-20: with the cookie, the check answers 202 and the app sees the identity headers.
      const s16 = step(ex, s14.index + 1, 'GET /gemini-rl -> 200', (e) => e.url.href === `${origin}/gemini-rl`);
      expect(s16.exchange.status).toBe(200);
      const checks = (await stack.edge.authChecksAfter(0, '/gemini-rl', 2)).filter((l) =>
        l.includes('for="/gemini-rl"'),
      );
      expect(checks.map((l) => /auth=(\d+)/.exec(l)?.[1])).toEqual(['401', '202']);
      const identity = first.answer.identity;
      expect(first.answer.viaProxy).toBe(true);
      expect(first.answer.user).toBe(ENTRA_USER.mail);
      expect(identity?.email).toBe(ENTRA_USER.mail);
      expect(identity?.preferredUsername).toBe(ENTRA_USER.mailNickname);
      expect(identity?.user).toBe(ENTRA_USER.mailNickname); // step 19: X-Auth-Request-User: john.doe
      expect(identity?.groups).toEqual([ENTRA_GROUP.displayName]);
      expect(stack.app.requests.filter((r) => r.identity !== null).length).toBe(1);
      await o.afterFirstLogin?.();
      await page.close();
    }, 90_000);

    it('scenario 2: a returning browser reaches the app with no redirect and one auth subrequest', async () => {
      expect(first).toBeDefined();
      const page = await context.newPage();
      const recorder = new TrafficRecorder(page);
      const before = (await stack.edge.authSubrequests()).length;
      const response = await page.goto(`${stack.origin}/helloworld`);
      const exchanges = await recorder.settled();
      printLatencies(`${o.name} scenario 2`, exchanges);
      expect(response?.status()).toBe(200);
      expect(response?.request().redirectedFrom()).toBeNull();
      expect(exchanges.map((e) => `${e.method} ${e.url.pathname} ${e.status}`)).toEqual(['GET /helloworld 200']);
      const lines = (await stack.edge.authChecksAfter(before, '/helloworld')).filter(
        (l) => !l.includes('for="/favicon.ico"'),
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/for="\/helloworld" auth=202/);
      const answer = await appAnswer(page);
      expect(answer.path).toBe('/helloworld');
      expect(answer.identity?.email).toBe(ENTRA_USER.mail);
      await page.close();
    });

    it('client-sent X-Auth-Request-* never reaches the app as identity; the app trusts nothing around nginx', async () => {
      const forged = {
        'X-Auth-Request-Email': 'mallory@evil.test',
        'X-Auth-Request-User': 'mallory',
        'X-Auth-Request-Preferred-Username': 'mallory',
      };
      // Signed in: nginx replaces the forged values with forward-auth's.
      const page = await context.newPage();
      await page.setExtraHTTPHeaders(forged);
      await page.goto(`${stack.origin}/gemini-rl`);
      const answer: AppAnswer = await appAnswer(page);
      expect(answer.identity?.email).toBe(ENTRA_USER.mail);
      expect(answer.identity?.user).not.toBe('mallory');
      expect(stack.app.requests.at(-1)?.emailHeader).toBe(ENTRA_USER.mail);
      await page.close();

      // Not signed in: the forged headers get a login redirect, and the app is never called.
      const stranger = await browser.newContext();
      try {
        const p2 = await stranger.newPage();
        await p2.setExtraHTTPHeaders(forged);
        const appCalls = stack.app.requests.length;
        await p2.goto(`${stack.origin}/gemini-rl`);
        expect(new URL(p2.url()).origin).not.toBe(stack.origin + '/gemini-rl');
        expect(p2.url()).not.toBe(`${stack.origin}/gemini-rl`);
        expect(stack.app.requests.length).toBe(appCalls);
      } finally {
        await stranger.close();
      }

      // Around nginx (straight to the app's port): no identity, whatever the headers say.
      const direct = await fetch(`${stack.app.url}/gemini-rl`, { headers: forged });
      expect((await direct.json()) as AppAnswer).toMatchObject({ user: null, viaProxy: false, identity: null });
    });

    it.runIf(o.cookieRefreshMs !== undefined)(
      'a session due for refresh is renewed during the check; nginx passes the new cookie',
      async () => {
        const refreshed = async (): Promise<number> => {
          const text = await (await fetch(`${stack.forwardAuth.url}/metrics`)).text();
          return Number(
            /gatehouse_forward_auth_session_refreshes_total\{outcome="refreshed"\} (\d+)/.exec(text)?.[1] ?? 0,
          );
        };
        const before = (await context.cookies(stack.origin)).find((c) => c.name === '_oauth2_proxy');
        expect(before).toBeDefined();
        const refreshesBefore = await refreshed();
        // Bounded wait: the session must become older than cookie_refresh.
        await new Promise((r) => setTimeout(r, (o.cookieRefreshMs ?? 0) + 250));
        const page = await context.newPage();
        const recorder = new TrafficRecorder(page);
        const response = await page.goto(`${stack.origin}/gemini-rl`);
        expect(response?.status()).toBe(200);
        const [doc] = await recorder.settled();
        printLatencies(`${o.name} refresh during the check`, doc ? [doc] : []);
        const renewed = doc?.setCookies.map(setCookieAttributes).find((c) => c.name === '_oauth2_proxy');
        expect(renewed, `Set-Cookie on the app response: ${doc?.setCookies.join(' | ')}`).toBeDefined();
        expect(renewed?.value).not.toBe(before?.value);
        expect(await refreshed()).toBe(refreshesBefore + 1); // a refresh_token grant at the issuer, through nginx
        expect(renewed?.attrs.has('secure') && renewed.attrs.has('httponly')).toBe(true);
        const after = (await context.cookies(stack.origin)).find((c) => c.name === '_oauth2_proxy');
        expect(after?.value).toBe(renewed?.value);
        expect((await appAnswer(page)).identity?.email).toBe(ENTRA_USER.mail);
        // The renewed cookie is a valid session on its own.
        const again = await page.goto(`${stack.origin}/gemini-rl`);
        expect(again?.status()).toBe(200);
        expect(again?.request().redirectedFrom()).toBeNull();
        await page.close();
      },
    );

    it('replayed callbacks (used codes) get a 4xx page, never a session or a 500', async () => {
      expect(used.dexCallback && used.oauth2Callback).toBeTruthy();
      const stranger = await browser.newContext();
      try {
        const page = await stranger.newPage();
        // forward-auth: the code was redeemed and this browser has no CSRF cookie for the state.
        const fa = await page.goto(used.oauth2Callback ?? '');
        expect(fa?.status()).toBeGreaterThanOrEqual(400);
        expect(fa?.status()).toBeLessThan(500);
        expect((await stranger.cookies(stack.origin)).find((c) => c.name === '_oauth2_proxy')).toBeUndefined();
        // The issuer: the upstream state of that login is spent.
        const dex = await page.goto(used.dexCallback ?? '');
        expect(dex?.status()).toBeGreaterThanOrEqual(400);
        expect(dex?.status()).toBeLessThan(500);
      } finally {
        await stranger.close();
      }
      // The signed-in browser replaying its own callback does not get a second session either.
      const page = await context.newPage();
      const again = await page.goto(used.oauth2Callback ?? '');
      expect(again?.status()).toBeGreaterThanOrEqual(400);
      expect(again?.status()).toBeLessThan(500);
      await page.close();
    });

    it('a hostile rd never leaves the site: the login ends on the app root', async () => {
      const hostile = await browser.newContext();
      try {
        const page = await hostile.newPage();
        const result = await loginWithEntra(page, stack, {
          choice: o.ldap,
          startAt: '/oauth2/start?rd=https%3A%2F%2Fevil.example%2Fsteal',
          path: '/',
        });
        expect(result.exchanges.some((e) => e.location?.hostname === 'evil.example')).toBe(false);
        expect(result.answer.path).toBe('/');
        expect(result.answer.identity?.email).toBe(ENTRA_USER.mail);
      } finally {
        await hostile.close();
      }
    });

    it('sign-out ends the session; the next request goes through login again', async () => {
      const page = await context.newPage();
      const recorder = new TrafficRecorder(page);
      await page.goto(`${stack.origin}/oauth2/sign_out`);
      // forward-auth clears its cookie and ends the issuer session (RP-initiated logout, confirmed by the user).
      await page.getByRole('button', { name: 'Yes, log out' }).click();
      // The issuer returns to the registered /oauth2/sign_out/done, which goes on to / (no rd): a login again.
      await page.waitForURL(
        (u) =>
          o.ldap
            ? u.origin === stack.origin && u.pathname.startsWith('/dex/interaction')
            : u.origin === stack.entra.url,
        {
          timeout: 15_000,
        },
      );
      const exchanges = await recorder.settled();
      printLatencies(`${o.name} sign-out`, exchanges);
      const signOut = step(exchanges, 0, '/oauth2/sign_out', (e) => e.url.pathname === '/oauth2/sign_out');
      expect(signOut.exchange.location?.pathname).toBe('/dex/logout');
      expect(signOut.exchange.location?.searchParams.get('post_logout_redirect_uri')).toBe(
        `${stack.origin}/oauth2/sign_out/done`,
      );
      const cleared = signOut.exchange.setCookies.map(setCookieAttributes).find((c) => c.name === '_oauth2_proxy');
      expect(cleared?.value).toBe('');
      const done = step(
        exchanges,
        signOut.index,
        'GET /oauth2/sign_out/done -> /',
        (e) => e.url.pathname === '/oauth2/sign_out/done',
      );
      expect(done.exchange.location?.href).toBe(`${stack.origin}/`);
      expect((await context.cookies(stack.origin)).find((c) => c.name === '_oauth2_proxy')).toBeUndefined();
      await page.close();

      // The next request goes through login again (the issuer session is gone too: Entra's form is shown).
      const before = (await stack.edge.authSubrequests()).length;
      const relog = await loginWithEntra(await context.newPage(), stack, { choice: o.ldap });
      // (Chromium's /favicon.ico requests from the issuer's pages are checked too: look for /gemini-rl.)
      const checks = (await stack.edge.authChecksAfter(before, '/gemini-rl')).filter((l) =>
        l.includes('for="/gemini-rl"'),
      );
      expect(checks[0]).toMatch(/auth=401/);
      step(relog.exchanges, 0, 'the Entra form again', (e) => e.url.origin === stack.entra.url && e.method === 'POST');
      expect(relog.answer.identity?.email).toBe(ENTRA_USER.mail);
    }, 90_000);

    // The issuer accepts only the registered post-logout URL (forward-auth's /oauth2/sign_out/done); rd, which is
    // not that URL, comes back through the end_session state and forward-auth's sign-out cookie. Chromium applies
    // the logout page's form-action to every redirect after the submission; the issuer lets it lead anywhere on the
    // client's scheme. With one connector the redirect goes on through /gemini-rl?x=1 -> /oauth2/start -> /dex/auth
    // to Entra's origin (the issuer session is gone); with a connector choice it stops on the issuer's choice page.
    it('sign-out with rd: after the issuer logout the browser lands on rd, which needs a login again', async () => {
      const page = await context.newPage();
      try {
        const before = (await stack.edge.authSubrequests()).length;
        const recorder = new TrafficRecorder(page);
        await page.goto(`${stack.origin}/oauth2/sign_out?rd=${encodeURIComponent('/gemini-rl?x=1')}`);
        const blocked: string[] = [];
        page.on('console', (m) => {
          if (m.text().includes('Content Security Policy')) blocked.push(m.text());
        });
        await page.getByRole('button', { name: 'Yes, log out' }).click();
        // One connector: straight on to Entra's sign-in form; a connector choice: the issuer's choice page.
        await page.waitForURL(
          (u) =>
            o.ldap
              ? u.origin === stack.origin && u.pathname.startsWith('/dex/interaction')
              : u.origin === stack.entra.url,
          {
            timeout: 15_000,
          },
        );
        const exchanges = await recorder.settled();
        printLatencies(`${o.name} sign-out with rd`, exchanges);
        expect(blocked).toEqual([]);
        const signOut = step(exchanges, 0, 'GET /oauth2/sign_out', (e) => e.url.pathname === '/oauth2/sign_out');
        const endSession = signOut.exchange.location;
        expect(endSession?.pathname).toBe('/dex/logout');
        expect(endSession?.searchParams.get('post_logout_redirect_uri')).toBe(`${stack.origin}/oauth2/sign_out/done`);
        expect(endSession?.href).not.toContain('gemini-rl');
        const confirm = step(
          exchanges,
          signOut.index,
          'POST /dex/logout/confirm',
          (e) => e.method === 'POST' && e.url.pathname === '/dex/logout/confirm',
        );
        expect(confirm.exchange.status).toBe(303);
        expect(confirm.exchange.location?.pathname).toBe('/oauth2/sign_out/done');
        // forward-auth's post-logout endpoint sends the browser to rd, which needs a login again.
        const done = step(
          exchanges,
          confirm.index + 1,
          'GET /oauth2/sign_out/done -> rd',
          (e) => e.url.pathname === '/oauth2/sign_out/done',
        );
        expect(done.exchange.location?.href).toBe(`${stack.origin}/gemini-rl?x=1`);
        step(
          exchanges,
          done.index + 1,
          'GET /gemini-rl?x=1 -> /oauth2/start',
          (e) => e.url.pathname === '/gemini-rl' && e.url.search === '?x=1' && e.location?.pathname === '/oauth2/start',
        );
        if (!o.ldap) {
          const dexAuth = step(
            exchanges,
            done.index + 1,
            'GET /dex/auth',
            (e) => e.url.origin === stack.origin && e.url.pathname === '/dex/auth',
          );
          step(exchanges, dexAuth.index, 'redirect to Entra authorize', (e) => e.location?.origin === stack.entra.url);
          expect(new URL(page.url()).pathname).toBe(`/${stack.entra.tenantId}/oauth2/v2.0/authorize`);
        }
        const checks = (await stack.edge.authChecksAfter(before, '/gemini-rl')).filter((l) =>
          l.includes('for="/gemini-rl"'),
        );
        expect(checks).toHaveLength(1);
        expect(checks[0]).toMatch(/auth=401/);
      } finally {
        await page.close();
      }
    }, 30_000);

    it.runIf(o.ldap)(
      'LDAP: the password form through the browser',
      async () => {
        const ldapContext = await browser.newContext();
        try {
          const page = await ldapContext.newPage();
          const recorder = new TrafficRecorder(page);
          const jane = stack.slapd?.seed.users.jane;
          if (!jane) throw new Error('no slapd');
          await page.goto(`${stack.origin}/gemini-rl`);
          await page.getByRole('link', { name: 'Log in with Corporate LDAP' }).click();
          await page.locator('input[name="login"]').fill(jane.uid);
          await page.locator('input[name="password"]').fill('wrong-password');
          await page.locator('button[type="submit"]').click();
          await expect.poll(async () => (await page.content()).toLowerCase()).toContain('invalid');
          await page.locator('input[name="login"]').fill(jane.uid);
          await page.locator('input[name="password"]').fill(jane.password);
          if (o.name) await screenshot(page, `${o.name}-4-ldap-form`);
          await page.locator('button[type="submit"]').click();
          await page.waitForURL(`${stack.origin}/gemini-rl`);
          const answer = await appAnswer(page);
          printLatencies(`${o.name} LDAP login`, await recorder.settled());
          expect(answer.identity?.email).toBe(jane.mail);
          expect(answer.identity?.preferredUsername).toBe(jane.uid);
          expect(answer.identity?.groups).toEqual(expect.arrayContaining(['developers']));
        } finally {
          await ldapContext.close();
        }
      },
      60_000,
    );

    // The password form hands the browser to the client: its callback (this host) sends it on to rd on the app
    // subdomain. Chromium applies the form page's form-action to every redirect of the submission's navigation, so the
    // issuer ends that navigation on a page of its own that moves on by itself: form-action lists exact origins only.
    it.runIf(o.ldap)(
      'LDAP: the password form with rd on another host (the app subdomain) lands on the app',
      async () => {
        const ldapContext = await browser.newContext();
        try {
          const page = await ldapContext.newPage();
          const blocked: string[] = [];
          page.on('console', (m) => {
            if (m.text().includes('Content Security Policy')) blocked.push(m.text());
          });
          const recorder = new TrafficRecorder(page);
          const jane = stack.slapd?.seed.users.jane;
          if (!jane) throw new Error('no slapd');
          const target = `${stack.edge.appOrigin}/gemini-rl`;
          await page.goto(`${stack.origin}/oauth2/start?rd=${encodeURIComponent(target)}`);
          const formResponse = page.waitForResponse(
            (r) => r.url().endsWith('/connector/ldap') && r.request().method() === 'GET',
          );
          await page.getByRole('link', { name: 'Log in with Corporate LDAP' }).click();
          const form = await formResponse;
          expect(form.headers()['content-security-policy']).toMatch(
            /form-action 'self' https:\/\/gatehouse\.test:\d+;/,
          );
          await page.locator('input[name="login"]').fill(jane.uid);
          await page.locator('input[name="password"]').fill(jane.password);
          await page.locator('button[type="submit"]').click();
          await page.waitForURL(target, { timeout: 15_000 }).catch(async (err: unknown) => {
            throw new Error(
              `stopped at ${page.url()}; CSP: ${blocked.join(' | ')}\n${formatTrace(await recorder.settled())}`,
              { cause: err },
            );
          });
          const exchanges = await recorder.settled();
          printLatencies(`${o.name} LDAP login, rd on ${APP_HOST}`, exchanges);
          expect(blocked).toEqual([]);
          const callback = step(
            exchanges,
            0,
            'GET /oauth2/callback',
            (e) => e.url.origin === stack.origin && e.url.pathname === '/oauth2/callback',
          );
          expect(callback.exchange.location?.href).toBe(target);
          const answer = await appAnswer(page);
          expect(answer.identity?.email).toBe(jane.mail);
        } finally {
          await ldapContext.close();
        }
      },
      60_000,
    );
  });
}
