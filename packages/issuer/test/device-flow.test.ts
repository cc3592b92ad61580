import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import {
  browse,
  type BrowseResult,
  CookieJar,
  formAction,
  formAction as formActionOf,
  TEST_CLIENT,
  testOAuth2,
} from '../src/testing/index.ts';
import { useIssuer } from './helpers.ts';
import { startUpstreamSite, UPSTREAM_USER, upstreamSiteFactory, type UpstreamSite } from './upstream-site.ts';

const CLI = {
  ...TEST_CLIENT,
  id: 'kubectl',
  secret: undefined,
  public: true,
  name: 'kubectl',
  redirectURIs: ['http://127.0.0.1:8000/'],
};
const xsrfOf = (page: BrowseResult) => /name="xsrf" value="([^"]+)"/.exec(page.body)![1]!;

describe('device flow (RFC 8628)', () => {
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

  it('a device gets tokens after the user enters the code, confirms and logs in', async () => {
    expect(env.config.serverMetadata().device_authorization_endpoint).toBe(`${env.issuer.issuerURL}/device/code`);
    const device = await client.initiateDeviceAuthorization(env.config, { scope: 'openid email offline_access' });
    const jar = new CookieJar();
    const input = await browse(jar, device.verification_uri);
    expect(input.status).toBe(200);
    expect(input.body).toContain('<label for="user_code">Code</label>');
    expect(input.body).not.toMatch(/<script|onfocus|style=/i);
    const xsrf = xsrfOf(input);

    const wrong = await browse(jar, formAction(input), { form: { xsrf, user_code: 'BBBB-BBBB' } });
    expect(wrong.body).toContain('The code you entered is not valid');

    const again = await browse(jar, device.verification_uri);
    const xsrf2 = xsrfOf(again);
    const confirm = await browse(jar, formAction(again), { form: { xsrf: xsrf2, user_code: device.user_code } });
    expect(confirm.body).toContain('Confirm the device');
    const xsrf3 = xsrfOf(confirm);
    // The confirmation ends at the login choice (a link to the connector, see the CSP test below).
    const choice = await browse(jar, formAction(confirm), {
      form: { xsrf: xsrf3, user_code: device.user_code, confirm: 'yes' },
    });
    const link = /<a class="button" href="([^"]+)">Log in with Mock<\/a>/.exec(choice.body)?.[1];
    expect(link).toBeDefined();
    const done = await browse(jar, new URL(link!.replace(/&amp;/g, '&'), choice.url).toString());
    expect(done.status).toBe(200);
    expect(done.body).toContain('Device connected');

    const tokens = await client.pollDeviceAuthorizationGrant(env.config, { ...device, interval: 0 } as never);
    expect(tokens.claims()?.email).toBe('kilgore@kilgore.trout');
    expect(tokens.claims()?.aud).toBe(CLI.id);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('the device is told access_denied when the user cancels', async () => {
    const device = await client.initiateDeviceAuthorization(env.config, { scope: 'openid' });
    const jar = new CookieJar();
    const input = await browse(jar, device.verification_uri);
    const xsrf = xsrfOf(input);
    const confirm = await browse(jar, formAction(input), { form: { xsrf, user_code: device.user_code } });
    const xsrf2 = xsrfOf(confirm);
    await browse(jar, formAction(confirm), { form: { xsrf: xsrf2, user_code: device.user_code, abort: 'yes' } });
    await expect(
      client.pollDeviceAuthorizationGrant(env.config, { ...device, interval: 0 } as never),
    ).rejects.toMatchObject({ error: 'access_denied' });
  });
});

describe('device flow pages: form-action stays on the issuer', () => {
  let site: UpstreamSite;
  beforeAll(async () => {
    site = await startUpstreamSite();
  });
  afterAll(async () => {
    await site.close();
  });
  const env = useIssuer(
    {
      staticClients: [CLI],
      connectors: [{ type: 'upstream', id: 'upstream', name: 'Upstream', config: {} }],
      connectorFactories: [upstreamSiteFactory('upstream', () => site)],
      overrides: { oauth2: testOAuth2({ grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'] }) },
    },
    CLI.id,
    null,
  );
  const formAction = (r: BrowseResult) =>
    /form-action ([^;]*)/.exec(r.response.headers.get('content-security-policy') ?? '')?.[1];

  it('the chain after each device form ends on the issuer; the upstream is reached by a link', async () => {
    const issuerOrigin = new URL(env.issuer.issuerURL).origin;
    const device = await client.initiateDeviceAuthorization(env.config, { scope: 'openid email' });
    const jar = new CookieJar();
    const input = await browse(jar, device.verification_uri);
    expect(formAction(input)).toBe("'self'");
    const confirm = await browse(jar, formActionOf(input), {
      form: { xsrf: xsrfOf(input), user_code: device.user_code },
    });
    expect(confirm.body).toContain('Confirm the device');
    expect(confirm.visited.every((u) => new URL(u).origin === issuerOrigin)).toBe(true);
    expect(formAction(confirm)).toBe("'self'");

    // Chromium checks the confirm page's form-action against every redirect after the submit:
    // each hop is on the issuer, ending at a page of ours (no auto-redirect to the upstream).
    const chosen = await browse(jar, formActionOf(confirm), {
      form: { xsrf: xsrfOf(confirm), user_code: device.user_code, confirm: 'yes' },
    });
    expect(chosen.status).toBe(200);
    expect(chosen.visited.length).toBeGreaterThan(1);
    expect(chosen.visited.every((u) => new URL(u).origin === issuerOrigin)).toBe(true);
    const link = /<a class="button" href="([^"]+)">Log in with Upstream<\/a>/.exec(chosen.body)?.[1];
    expect(link).toBeDefined();

    // Following the link (a navigation, not a form) logs in upstream and connects the device.
    const done = await browse(jar, new URL(link!.replace(/&amp;/g, '&'), chosen.url).toString());
    expect(done.visited.some((u) => u.startsWith(site.origin))).toBe(true);
    expect(done.body).toContain('Device connected');
    expect(formAction(done)).toBe("'self'");
    const tokens = await client.pollDeviceAuthorizationGrant(env.config, { ...device, interval: 0 } as never);
    expect(tokens.claims()?.email).toBe(UPSTREAM_USER.email);
  });
});
