import { expectConnectorError, within } from '@gatehouse/connector-kit/testing';
import type { FakeGitHub, FakeGitHubFault } from '@gatehouse/testkit/github';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dotComConfig, loginAs, openConnector, startWorld } from './fixtures.ts';
import type { Opened } from './fixtures.ts';

let gh: FakeGitHub;
let o: Opened;

beforeAll(async () => {
  gh = await startWorld();
  // requestTimeout 1s: a hang must end well inside the test timeout.
  o = await openConnector(dotComConfig(gh, { orgs: [{ name: 'acme' }], requestTimeout: '1s' }));
});
afterEach(() => {
  gh.setFault(undefined);
});
afterAll(async () => {
  await o.connector.close?.();
  await gh.close();
});

const cases: Array<{ name: string; fault: FakeGitHubFault; code: string; retryAfter?: number }> = [
  {
    name: '401 on /user (token revoked meanwhile)',
    fault: { kind: 'unauthorized', paths: ['/user'] },
    code: 'upstream_error',
  },
  {
    name: '403 primary rate limit (x-ratelimit-remaining: 0)',
    fault: { kind: 'rateLimit', seconds: 120 },
    code: 'upstream_unavailable',
    retryAfter: 118,
  },
  {
    name: '429 secondary rate limit (retry-after)',
    fault: { kind: 'secondaryRateLimit', seconds: 17 },
    code: 'upstream_unavailable',
    retryAfter: 17,
  },
  { name: '500 on /user/teams', fault: { kind: 'serverError', paths: ['/user/teams'] }, code: 'upstream_unavailable' },
  {
    name: '503 on the membership check',
    fault: { kind: 'serverError', status: 503, paths: ['/orgs/'] },
    code: 'upstream_unavailable',
  },
  {
    name: '502 from the token endpoint',
    fault: { kind: 'serverError', status: 502, on: 'oauth', paths: ['/login/oauth/access_token'] },
    code: 'upstream_unavailable',
  },
  { name: 'non-JSON body', fault: { kind: 'malformed', paths: ['/user/emails'] }, code: 'upstream_error' },
  { name: 'API hangs', fault: { kind: 'hang', paths: ['/user'] }, code: 'upstream_unavailable' },
  {
    name: 'token endpoint hangs',
    fault: { kind: 'hang', on: 'oauth', paths: ['/login/oauth/access_token'] },
    code: 'upstream_unavailable',
  },
];

describe('github connector: upstream faults become ConnectorErrors in bounded time', () => {
  for (const c of cases) {
    it(c.name, async () => {
      gh.signIn('alice');
      gh.setFault(c.fault);
      const error = await within(
        8000,
        c.name,
        loginAs(gh, o.connector, 'alice').catch((e: unknown) => e),
      );
      expect(error).toMatchObject({ name: 'ConnectorError', code: c.code });
      expect((error as { userMessage?: string }).userMessage).toBeTruthy();
      if (c.retryAfter !== undefined)
        expect((error as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(c.retryAfter);
    });
  }

  it('works again once the fault is gone', async () => {
    expect((await loginAs(gh, o.connector, 'alice')).userId).toBe('1001');
  });

  it('an unreachable GitHub is upstream_unavailable', async () => {
    const down = await openConnector(
      dotComConfig(gh, { apiURL: 'http://127.0.0.1:9', oauthURL: 'http://127.0.0.1:9' }),
    );
    try {
      gh.signIn('alice');
      const redirect = await down.connector.loginURL(
        { offlineAccess: false, groups: false },
        'https://issuer.test/dex/callback',
        's1',
      );
      const url = new URL('https://issuer.test/dex/callback?code=abc&state=s1');
      await expectConnectorError(
        down.connector.handleCallback({ offlineAccess: false, groups: false }, redirect.keep, { url, method: 'GET' }),
        'upstream_unavailable',
      );
    } finally {
      await down.connector.close?.();
    }
  });
});
