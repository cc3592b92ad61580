import { expectConnectorError } from '@gatehouse/connector-kit/testing';
import type { FakeGitHub } from '@gatehouse/testkit/github';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ALL,
  CALLBACK,
  CLIENT,
  assertNotLogged,
  dotComConfig,
  driveLogin,
  loginAs,
  openConnector,
  startWorld,
} from './fixtures.ts';
import type { Opened } from './fixtures.ts';

let gh: FakeGitHub;
const opened: Opened[] = [];

async function open(extra: Parameters<typeof dotComConfig>[1] = {}): Promise<Opened> {
  const o = await openConnector(dotComConfig(gh, extra));
  opened.push(o);
  return o;
}

beforeAll(async () => {
  gh = await startWorld();
});
afterEach(() => {
  gh.setFault(undefined);
});
afterAll(async () => {
  for (const o of opened) await o.connector.close?.();
  await gh.close();
});

describe('github connector: login (github.com mode)', () => {
  it('sends the browser to /login/oauth/authorize with state, PKCE S256 and the needed scopes', async () => {
    const { connector } = await open({ orgs: [{ name: 'acme' }] });
    const redirect = await connector.loginURL(ALL, CALLBACK, 'the-state');
    const url = new URL(redirect.url);
    expect(url.origin + url.pathname).toBe(`${gh.url}/login/oauth/authorize`);
    expect(url.searchParams.get('client_id')).toBe(CLIENT.clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(CALLBACK);
    expect(url.searchParams.get('state')).toBe('the-state');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(['user:email', 'read:org']);
    // The verifier stays with the issuer, never in the URL.
    const kept = redirect.keep as { codeVerifier: string };
    expect(redirect.url).not.toContain(kept.codeVerifier);
  });

  it('asks only for user:email when neither orgs nor groups are needed', async () => {
    const { connector } = await open();
    const redirect = await connector.loginURL({ offlineAccess: false, groups: false }, CALLBACK, 's');
    expect(new URL(redirect.url).searchParams.get('scope')).toBe('user:email');
  });

  it('logs alice in: numeric id, name, login, verified primary email, org:team groups', async () => {
    const { connector, logger } = await open({ orgs: [{ name: 'acme' }] });
    const identity = await loginAs(gh, connector, 'alice');
    expect(identity).toMatchObject({
      userId: '1001',
      username: 'Alice Liddell',
      preferredUsername: 'alice',
      email: 'alice@personal.example',
      emailVerified: true,
    });
    expect(identity.groups?.sort()).toEqual(['acme:Platform Team', 'acme:SRE']);
    const data = identity.connectorData as { accessToken: string };
    expect(data.accessToken).toMatch(/^gho_/);
    // The token exchange sent the verifier and asked for JSON.
    const exchange = gh.requests.filter((r) => r.path === '/login/oauth/access_token').at(-1);
    expect(exchange?.accept).toBe('application/json');
    expect(exchange?.fields?.['code_verifier']).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(exchange?.fields?.['redirect_uri']).toBe(CALLBACK);
    assertNotLogged(logger, [data.accessToken, CLIENT.clientSecret]);
  });

  it('keeps no upstream token without offline_access, and no groups without the groups scope', async () => {
    const { connector } = await open({ orgs: [{ name: 'acme' }] });
    const identity = await loginAs(gh, connector, 'alice', { offlineAccess: false, groups: false });
    expect(identity.connectorData).toBeUndefined();
    expect(identity.groups).toBeUndefined();
    expect(identity.userId).toBe('1001');
  });

  it('uses the login as id with useLoginAsID, and the login as username when there is no name', async () => {
    const { connector } = await open({ useLoginAsID: true });
    const identity = await loginAs(gh, connector, 'bob');
    expect(identity.userId).toBe('bob');
    expect(identity.username).toBe('bob');
    expect(identity.email).toBe('bob@other.example');
  });

  it('prefers a verified email in preferredEmailDomain (wildcards per label), else the verified primary', async () => {
    const a = await open({ preferredEmailDomain: 'acme.example' });
    expect((await loginAs(gh, a.connector, 'alice')).email).toBe('alice@acme.example');
    const b = await open({ preferredEmailDomain: '*.example' });
    expect((await loginAs(gh, b.connector, 'alice')).email).toBe('alice@personal.example');
    const c = await open({ preferredEmailDomain: 'nowhere.example' });
    expect((await loginAs(gh, c.connector, 'alice')).email).toBe('alice@personal.example');
  });

  it('refuses a user with only unverified emails (access_denied with a message for the user)', async () => {
    const { connector } = await open();
    const error = await loginAs(gh, connector, 'carol').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'access_denied' });
    expect((error as { userMessage: string }).userMessage).toMatch(/verified email/);
  });

  it('refuses a user outside the allowed organisations with not_in_required_groups', async () => {
    const { connector } = await open({ orgs: [{ name: 'acme' }] });
    await expectConnectorError(loginAs(gh, connector, 'bob'), 'not_in_required_groups');
  });

  it('with teams listed, admits only members of those teams and emits only them', async () => {
    const { connector } = await open({ orgs: [{ name: 'acme', teams: ['SRE', 'Nobody'] }] });
    expect((await loginAs(gh, connector, 'alice')).groups).toEqual(['acme:SRE']);
    // dave is in acme, but in none of the listed teams.
    await expectConnectorError(loginAs(gh, connector, 'dave'), 'not_in_required_groups');
  });

  it('admits through any one of several orgs', async () => {
    const { connector } = await open({ orgs: [{ name: 'acme', teams: ['SRE'] }, { name: 'other' }] });
    expect((await loginAs(gh, connector, 'bob')).groups).toEqual(['other:Readers']);
    expect((await loginAs(gh, connector, 'alice')).groups?.sort()).toEqual(['acme:SRE', 'other:Readers']);
  });

  it('legacy org restricts login to its members (unlike Dex) and emits its teams', async () => {
    const { connector } = await open({ org: 'acme' });
    expect((await loginAs(gh, connector, 'alice')).groups?.sort()).toEqual(['acme:Platform Team', 'acme:SRE']);
    await expectConnectorError(loginAs(gh, connector, 'bob'), 'not_in_required_groups');
  });

  it('teamNameField: slug, and both', async () => {
    const slug = await open({ orgs: [{ name: 'acme', teams: ['platform-team'] }], teamNameField: 'slug' });
    expect((await loginAs(gh, slug.connector, 'alice')).groups).toEqual(['acme:platform-team']);
    const both = await open({ orgs: [{ name: 'acme' }], teamNameField: 'both' });
    expect((await loginAs(gh, both.connector, 'alice')).groups?.sort()).toEqual([
      'acme:Platform Team',
      'acme:SRE',
      'acme:platform-team',
      'acme:sre',
    ]);
    // With the name field, a slug in the team filter does not match.
    const name = await open({ orgs: [{ name: 'acme', teams: ['platform-team'] }] });
    await expectConnectorError(loginAs(gh, name.connector, 'alice'), 'not_in_required_groups');
  });

  it('loadAllGroups lists every organisation and org:team (only with the groups scope)', async () => {
    const { connector } = await open({ loadAllGroups: true });
    expect((await loginAs(gh, connector, 'alice')).groups?.sort()).toEqual([
      'acme',
      'acme:Platform Team',
      'acme:SRE',
      'other',
      'other:Readers',
    ]);
    expect((await loginAs(gh, connector, 'alice', { offlineAccess: false, groups: false })).groups).toBeUndefined();
  });

  it('follows Link pagination: all 150 teams of dave arrive, 100 per page', async () => {
    const { connector } = await open({ orgs: [{ name: 'acme' }] });
    const before = gh.requests.length;
    const identity = await loginAs(gh, connector, 'dave');
    expect(identity.groups).toHaveLength(150);
    expect(identity.groups).toContain('acme:Team 001');
    expect(identity.groups).toContain('acme:Team 150');
    const pages = gh.requests.slice(before).filter((r) => r.path === '/user/teams');
    expect(pages.map((p) => [p.query['per_page'], p.query['page'] ?? '1'])).toEqual([
      ['100', '1'],
      ['100', '2'],
    ]);
  });

  it('refuses a callback whose state does not match the kept login (invalid_state), before spending the code', async () => {
    const { connector } = await open();
    gh.signIn('alice');
    const a = await connector.loginURL(ALL, CALLBACK, 'state-A');
    const b = await connector.loginURL(ALL, CALLBACK, 'state-B');
    const callbackA = await driveLogin(gh, a.url);
    await expectConnectorError(connector.handleCallback(ALL, b.keep, callbackA), 'invalid_state');
    const identity = await connector.handleCallback(ALL, a.keep, callbackA);
    expect(identity.userId).toBe('1001');
  });

  it("refuses a replayed code (invalid_state) and a code with another login's PKCE verifier", async () => {
    const { connector } = await open();
    gh.signIn('alice');
    const a = await connector.loginURL(ALL, CALLBACK, 'state-A');
    const callbackA = await driveLogin(gh, a.url);
    await connector.handleCallback(ALL, a.keep, callbackA);
    await expectConnectorError(connector.handleCallback(ALL, a.keep, callbackA), 'invalid_state');

    const b = await connector.loginURL(ALL, CALLBACK, 'state-B');
    const callbackB = await driveLogin(gh, b.url);
    const forgedKeep = { ...(b.keep as object), codeVerifier: (a.keep as { codeVerifier: string }).codeVerifier };
    await expectConnectorError(connector.handleCallback(ALL, forgedKeep, callbackB), 'invalid_state');
  });

  it('maps the user pressing Cancel on GitHub to access_denied', async () => {
    const { connector } = await open();
    gh.signIn('alice');
    gh.setAutoApprove(false);
    try {
      const redirect = await connector.loginURL(ALL, CALLBACK, 'state-deny');
      // The consent page is a form; submit it with the cancel button.
      const page = await fetch(redirect.url);
      const html = await page.text();
      expect(html).toContain('<form method="post" action="/login/oauth/authorize">');
      const fields = new URLSearchParams();
      for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
        fields.set(m[1] ?? '', (m[2] ?? '').replace(/&amp;/g, '&'));
      }
      fields.set('authorize', '0');
      const res = await fetch(`${gh.url}/login/oauth/authorize`, { method: 'POST', body: fields, redirect: 'manual' });
      const location = res.headers.get('location');
      expect(res.status).toBe(302);
      await expectConnectorError(
        connector.handleCallback(ALL, redirect.keep, { url: new URL(location ?? ''), method: 'GET' }),
        'access_denied',
      );
    } finally {
      gh.setAutoApprove(true);
    }
  });

  it('turns a wrong client secret into upstream_error without logging it', async () => {
    const { connector, logger } = await open({ clientSecret: 'not-the-secret' });
    await expectConnectorError(loginAs(gh, connector, 'alice'), 'upstream_error');
    assertNotLogged(logger, ['not-the-secret']);
  });

  it('refuses a redirectURI that is not the issuer callback', async () => {
    const { connector } = await open({ redirectURI: 'https://elsewhere.test/callback' });
    await expectConnectorError(connector.loginURL(ALL, CALLBACK, 's'), 'invalid_configuration');
  });
});
