/**
 * Upstream answers at `{issuer}/callback`: a query answer is forwarded to the interaction as a GET;
 * a `form_post` answer (codes, ID tokens in the body) never travels in a URL — it goes on as a
 * same-site POST from a Continue page — and no GET can make a connector believe it got a POST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallbackRequest } from '@gatehouse/connector-kit';
import { browse, type BrowseResult, CookieJar, formAction } from '../src/testing/index.ts';
import { authorizationRequest, outcome, redeem, REDIRECT, useIssuer } from './helpers.ts';
import { startUpstreamSite, UPSTREAM_USER, upstreamSiteFactory, type UpstreamSite } from './upstream-site.ts';

const ID_TOKEN = 'eyJhbGciOiJub25lIn0.eyJzZWNyZXQiOiJ1cHN0cmVhbSJ9.';

describe('upstream callbacks', () => {
  let site: UpstreamSite;
  const received: CallbackRequest[] = [];
  beforeAll(async () => {
    site = await startUpstreamSite();
  });
  afterAll(async () => {
    await site.close();
  });
  const env = useIssuer({
    connectors: [{ type: 'upstream', id: 'upstream', name: 'Upstream', config: {} }],
    connectorFactories: [upstreamSiteFactory('upstream', () => site, received)],
  });

  /** Starts a login and stops where the browser would go to the upstream; returns the state. */
  async function toUpstream(jar: CookieJar) {
    const request = await authorizationRequest(env.config, 'openid email');
    const atUpstream = await browse(jar, request.url.toString(), { stopAt: site.origin });
    expect(atUpstream.location).toBeDefined();
    const state = new URL(atUpstream.location!).searchParams.get('state')!;
    return { request, state };
  }

  const csp = (r: BrowseResult | Response) =>
    ('response' in r ? r.response : r).headers.get('content-security-policy') ?? '';

  it('a form_post answer goes on as a POST from a Continue page, never in a URL', async () => {
    const jar = new CookieJar();
    const { request, state } = await toUpstream(jar);
    // The upstream's page posts cross-site: a browser sends no Lax cookie with it.
    const form = { state, code: 'upstream-code', id_token: ID_TOKEN };
    const res = await fetch(`${env.issuer.issuerURL}/callback`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams(form).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(csp(res)).toContain(`form-action 'self' ${new URL(REDIRECT).origin}`);
    const page = await res.text();
    expect(page).not.toMatch(/<script|onload=|http-equiv="refresh"/i);
    expect(page).toContain('<button type="submit" autofocus>Continue</button>');
    const continued: BrowseResult = { response: res, url: res.url, body: page, status: 200, visited: [] };
    const action = formAction(continued);
    expect(action).toBe(`${env.issuer.issuerURL}/interaction/${state}/callback`);
    const fields = Object.fromEntries(
      [...page.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m) => [m[1], m[2]]),
    );
    expect(fields).toEqual(form);

    // The user presses Continue: a same-site POST carrying the interaction cookie.
    const before = received.length;
    const done = await browse(jar, action, { form: fields as Record<string, string>, stopAt: REDIRECT });
    expect(done.location).toBeDefined();
    expect([...done.visited, done.location!].some((u) => u.includes('upstream-code') || u.includes(ID_TOKEN))).toBe(
      false,
    );
    expect(received.length).toBe(before + 1);
    const got = received.at(-1)!;
    expect(got.method).toBe('POST');
    expect(got.form).toEqual(form);
    expect(got.url.search).toBe('');
    const tokens = await redeem(env.config, outcome(request, done) as never);
    expect(tokens.claims()?.email).toBe(UPSTREAM_USER.email);
  });

  it('a query answer reaches the connector as a GET, whatever the query claims', async () => {
    const jar = new CookieJar();
    const { request, state } = await toUpstream(jar);
    const before = received.length;
    const query = new URLSearchParams({ state, code: 'upstream-code', _gatehouse_form_post: '1' });
    const done = await browse(jar, `${env.issuer.issuerURL}/callback?${query}`, { stopAt: REDIRECT });
    expect(done.location).toBeDefined();
    expect(received.length).toBe(before + 1);
    const got = received.at(-1)!;
    expect(got.method).toBe('GET');
    expect(got.form).toBeUndefined();
    expect(got.url.searchParams.get('code')).toBe('upstream-code');
    expect((await redeem(env.config, outcome(request, done) as never)).claims()?.sub).toBeTruthy();
  });

  it('a direct GET on the interaction callback with the old form_post marker is a GET', async () => {
    const jar = new CookieJar();
    const { state } = await toUpstream(jar);
    const before = received.length;
    const query = new URLSearchParams({ state, code: 'upstream-code', _gatehouse_form_post: '1' });
    await browse(jar, `${env.issuer.issuerURL}/interaction/${state}/callback?${query}`, { stopAt: REDIRECT });
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)!.method).toBe('GET');
    expect(received.at(-1)!.form).toBeUndefined();
  });

  it('refuses a cross-site POST on the interaction callback (no cookie) and bad form_post answers', async () => {
    const jar = new CookieJar();
    const { state } = await toUpstream(jar);
    const before = received.length;
    const cross = await browse(new CookieJar(), `${env.issuer.issuerURL}/interaction/${state}/callback`, {
      form: { state, code: 'upstream-code' },
    });
    expect(cross.status).toBe(400);
    expect(cross.body).toContain('Login session not found');

    const post = (body: string, type = 'application/x-www-form-urlencoded') =>
      fetch(`${env.issuer.issuerURL}/callback`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': type, accept: 'text/html' },
        body,
      });
    expect((await post('code=x')).status).toBe(400); // no state
    expect((await post('state=..%2F..&code=x')).status).toBe(400); // not a uid
    const unknown = await post('state=nosuchinteraction123&code=x');
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('Login session not found');
    expect((await post(JSON.stringify({ state }), 'application/json')).status).toBe(415);
    expect((await post(`state=${state}&x=${'a'.repeat(40_000)}`)).status).toBe(413);
    expect(received.length).toBe(before);
  });
});
