/**
 * Every cookie the issuer sets is scoped to the issuer path (`/dex`): on the single-host layout
 * (`/dex` next to the app and `/oauth2`) a `Path=/` cookie would travel to the app and to
 * forward-auth with every request.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { browse, CookieJar, formAction, login, TEST_CLIENT } from '../src/testing/index.ts';
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

interface Seen {
  url: string;
  name: string;
  path: string | undefined;
  line: string;
}

describe('issuer cookies are scoped to the issuer path', () => {
  const env = useIssuer({ connectors: [], overrides: { enablePasswordDB: true, staticPasswords: [ALICE] } });
  let seen: Seen[] = [];
  const realFetch = globalThis.fetch;
  beforeEach(() => {
    seen = [];
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      const url = input instanceof Request ? input.url : String(input);
      for (const line of res.headers.getSetCookie()) {
        const name = line.slice(0, line.indexOf('='));
        const path = /;\s*path=([^;]*)/i.exec(line)?.[1];
        seen.push({ url, name, path, line });
      }
      return res;
    };
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  it('a full password login and logout: _session(.sig) on /dex, the interaction cookies on their own paths, none on /', async () => {
    const issuerPath = new URL(env.issuer.issuerURL).pathname;
    expect(issuerPath).toBe('/dex');
    const jar = new CookieJar();
    const request = await authorizationRequest(env.config, 'openid email');
    const done = await login(jar, request.url.toString(), {
      stopAt: REDIRECT,
      username: ALICE.email,
      password: ALICE_PASSWORD,
    });
    const o = outcome(request, done);
    if (!isAuthorization(o)) throw new Error(`login stopped: ${o.status}`);
    const tokens = await redeem(env.config, o);
    expect(tokens.claims()?.email).toBe(ALICE.email);

    const names = new Set(seen.map((s) => s.name));
    for (const n of [
      '_session',
      '_session.sig',
      '_interaction',
      '_interaction.sig',
      '_interaction_resume',
      '_interaction_resume.sig',
    ]) {
      expect(names, n).toContain(n);
    }
    for (const s of seen) {
      expect(s.path, s.line).toBeDefined();
      expect(s.path === issuerPath || s.path!.startsWith(`${issuerPath}/`), s.line).toBe(true);
    }
    for (const s of seen.filter((x) => x.name.startsWith('_session'))) expect(s.path, s.line).toBe(issuerPath);
    for (const s of seen.filter((x) => x.name.startsWith('_interaction'))) {
      expect(s.path, s.line).toMatch(
        s.name.startsWith('_interaction_resume') ? /^\/dex\/auth\/[\w-]+$/ : /^\/dex\/interaction\/[\w-]+$/,
      );
    }
    // The app and forward-auth never see the issuer session.
    expect(jar.header(`${new URL(env.issuer.issuerURL).origin}/`)).toBe('');
    expect(jar.header(`${new URL(env.issuer.issuerURL).origin}/oauth2/auth`)).toBe('');
    expect(jar.get(`${env.issuer.issuerURL}/auth`, '_session')).toBeDefined();

    // Logout clears the session cookie on the same path (a clearing on another path would not).
    seen = [];
    const end = client.buildEndSessionUrl(env.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: TEST_CLIENT.postLogoutRedirectURIs[0]!,
    });
    const page = await browse(jar, end.toString());
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
    await browse(jar, formAction(page), {
      form: { xsrf: xsrf!, logout: 'yes' },
      stopAt: TEST_CLIENT.postLogoutRedirectURIs[0]!,
    });
    const cleared = seen.filter((s) => s.name === '_session' && /expires=Thu, 01 Jan 1970/i.test(s.line));
    expect(cleared.length).toBeGreaterThan(0);
    for (const s of cleared) expect(s.path).toBe(issuerPath);
    expect(jar.get(`${env.issuer.issuerURL}/auth`, '_session')).toBeUndefined();
  });
});
