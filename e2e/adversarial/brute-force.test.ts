// Password and device-code brute force under concurrency, through nginx (deploy template) to the issuer with a real
// slapd behind its LDAP connector. Guesses arrive all at once, on the password form and on the password grant, with
// X-Forwarded-For rotated to pose as fresh addresses, and against the device flow's user_code form. Counted where a
// guess costs: slapd's BIND log for the user's DN (each password check is one bind), the issuer's "not valid" page
// for a user_code lookup. Limits (the issuer's defaults, per replica): 5 failures per user and address, 30 per
// address, per 15 minutes; 10 wrong user_codes per address. The test client is 127.0.0.1 for every request (nginx
// overwrites X-Forwarded-For with $remote_addr). One proxy_pass variant: these targets are /dex/ and never reach
// the app location, the only place where the variants differ.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ID } from '../src/stack.ts';
import { closeClients, http1, type Answer } from './client.ts';
import { Jar } from './flow.ts';
import { startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const form = defineClass('brute-force/password-form');
const grant = defineClass('brute-force/password-grant');
const device = defineClass('brute-force/device-user-code');

const PER_USER = 5;
const PER_ADDRESS = 30;
const DEVICE_PER_ADDRESS = 10;

describe('password and device-code brute force under concurrency (proxy_pass http://app)', () => {
  let stack: AdversarialStack;
  beforeAll(async () => {
    stack = await startAdversarialStack({
      proxyPass: 'http://app',
      withLdap: true,
      withPasswordGrantAndDeviceFlow: true,
    });
  }, 60_000);
  afterAll(async () => {
    if (stack) closeClients(stack);
    await stack?.stop();
  });

  const slapd = () => {
    if (!stack.slapd) throw new Error('no slapd');
    return stack.slapd;
  };
  /** Binds slapd logged for `dn` (the connector's password checks for that user), once its log caught up. */
  const bindsFor = async (dn: string) => {
    await new Promise((r) => setTimeout(r, 300));
    return slapd()
      .log()
      .split('\n')
      .filter((l) => l.includes(' BIND dn="') && l.toLowerCase().includes(`dn="${dn.toLowerCase()}"`)).length;
  };
  /** Checks that reached the connector from this address, over every case (the per-address budget). */
  let addressChecks = 0;

  async function get(jar: Jar, url: URL, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await http1(stack, url.pathname + url.search, {
      headers: { cookie: jar.header(), accept: 'text/html', ...headers },
    });
    jar.store(res);
    return res;
  }

  /** /oauth2/start → /dex/auth → connector choice → the LDAP password form: its action and cookies. */
  async function passwordForm(): Promise<{ jar: Jar; action: URL }> {
    const jar = new Jar();
    let url = new URL(`${stack.origin}/oauth2/start?rd=/`);
    for (let hop = 0; hop < 8; hop++) {
      const res = await get(jar, url);
      const location = typeof res.headers.location === 'string' ? res.headers.location : undefined;
      if (location !== undefined) {
        url = new URL(location, url);
        continue;
      }
      const action = /<form method="post" action="([^"]+\/login)"/.exec(res.body)?.[1];
      if (action) return { jar, action: new URL(action.replace(/&amp;/g, '&'), url) };
      const link = /href="([^"]*\/connector\/ldap)"/.exec(res.body)?.[1];
      if (!link) throw new Error(`no LDAP link at ${url.href}: ${res.status}`);
      url = new URL(link.replace(/&amp;/g, '&'), url);
    }
    throw new Error('no password form');
  }

  const postForm = (jar: Jar, action: URL, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    http1(stack, action.pathname, {
      method: 'POST',
      headers: {
        cookie: jar.header(),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
    });

  const formOutcome = (r: Answer) =>
    r.status === 401
      ? 'refused-invalid'
      : r.status === 429 && /Too many attempts/.test(r.body)
        ? 'throttled'
        : r.status >= 500
          ? `ERROR-${r.status}`
          : `status-${r.status}`;

  it('the password form: 40 concurrent wrong passwords, then 40 with rotated X-Forwarded-For, then the right one', async () => {
    const jane = slapd().seed.users.jane;
    const before = await bindsFor(jane.dn);
    const { jar, action } = await passwordForm();
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) => postForm(jar, action, { login: jane.uid, password: `guess-${i}` })),
    );
    burst.forEach((r, i) =>
      form.check(
        `concurrent wrong password #${i}`,
        ['refused-invalid', 'throttled'],
        formOutcome(r),
        `status ${r.status}`,
      ),
    );
    const checked = (await bindsFor(jane.dn)) - before;
    form.check(
      '40 concurrent: password checks at slapd',
      'within-limit',
      checked <= PER_USER ? 'within-limit' : 'OVER-LIMIT',
      `${checked} binds for ${jane.uid}`,
    );
    form.check(
      '40 concurrent: refused pages match slapd binds',
      'consistent',
      burst.filter((r) => r.status === 401).length === checked ? 'consistent' : 'MISMATCH',
    );

    const spoofed = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        postForm(jar, action, { login: jane.uid, password: `spoof-${i}` }, { 'x-forwarded-for': `203.0.113.${i + 1}` }),
      ),
    );
    spoofed.forEach((r, i) =>
      form.check(`X-Forwarded-For 203.0.113.${i + 1}`, 'throttled', formOutcome(r), `status ${r.status}`),
    );
    const right = await postForm(jar, action, { login: jane.uid, password: jane.password });
    form.check('the right password past the limit', 'throttled', formOutcome(right), `status ${right.status}`);
    const total = (await bindsFor(jane.dn)) - before;
    form.check(
      'after spoofing and the right password: password checks at slapd',
      'within-limit',
      total <= PER_USER ? 'within-limit' : 'OVER-LIMIT',
      `${total} binds`,
    );
    addressChecks += total;
    expect(total).toBeLessThanOrEqual(PER_USER);
  }, 60_000);

  it('the password grant: 50 concurrent wrong passwords, then 50 with rotated X-Forwarded-For, then the right one', async () => {
    const john = slapd().seed.users.john;
    const before = await bindsFor(john.dn);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(stack.clientSecret)}`).toString('base64')}`;
    const token = (password: string, headers: Record<string, string> = {}) =>
      http1(stack, '/dex/token', {
        method: 'POST',
        headers: {
          authorization: basic,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...headers,
        },
        body: new URLSearchParams({ grant_type: 'password', username: john.uid, password, scope: 'openid' }).toString(),
      });
    const outcome = (r: Answer) => {
      if (r.status >= 500) return `ERROR-${r.status}`;
      if (r.status === 200) return 'TOKENS';
      try {
        return `${r.status}-${(JSON.parse(r.body) as { error?: string }).error ?? 'no-error'}`;
      } catch {
        return `status-${r.status}`;
      }
    };
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => token(`guess-${i}`)));
    burst.forEach((r, i) => grant.check(`concurrent wrong password #${i}`, '400-invalid_grant', outcome(r)));
    const checked = (await bindsFor(john.dn)) - before;
    grant.check(
      '50 concurrent: password checks at slapd',
      'within-limit',
      checked <= PER_USER ? 'within-limit' : 'OVER-LIMIT',
      `${checked} binds for ${john.uid}`,
    );
    const spoofed = await Promise.all(
      Array.from({ length: 50 }, (_, i) => token(`spoof-${i}`, { 'x-forwarded-for': `198.51.100.${i + 1}` })),
    );
    spoofed.forEach((r, i) => grant.check(`X-Forwarded-For 198.51.100.${i + 1}`, '400-invalid_grant', outcome(r)));
    const right = await token(john.password);
    grant.check('the right password past the limit', '400-invalid_grant', outcome(right));
    const total = (await bindsFor(john.dn)) - before;
    grant.check(
      'after spoofing and the right password: password checks at slapd',
      'within-limit',
      total <= PER_USER ? 'within-limit' : 'OVER-LIMIT',
      `${total} binds`,
    );
    addressChecks += total;
    expect(total).toBeLessThanOrEqual(PER_USER);
  }, 60_000);

  it('the password form: 60 concurrent wrong passwords for 60 users from one address stop at the per-address limit', async () => {
    const { jar, action } = await passwordForm();
    const burst = await Promise.all(
      Array.from({ length: 60 }, (_, i) => postForm(jar, action, { login: `nobody-${i}`, password: 'wrong' })),
    );
    burst.forEach((r, i) =>
      form.check(`many users: nobody-${i}`, ['refused-invalid', 'throttled'], formOutcome(r), `status ${r.status}`),
    );
    addressChecks += burst.filter((r) => r.status === 401).length;
    form.check(
      'many users: checks from this address, all cases',
      'within-limit',
      addressChecks <= PER_ADDRESS ? 'within-limit' : 'OVER-LIMIT',
      `${addressChecks} checks`,
    );
    expect(addressChecks).toBeLessThanOrEqual(PER_ADDRESS);
  }, 60_000);

  it('device flow: 40 concurrent user_code guesses (one session each), then 40 with rotated X-Forwarded-For', async () => {
    /** A fresh browser session on the code page: its xsrf token (a failed guess rotates it). */
    async function session(headers: Record<string, string> = {}): Promise<{ jar: Jar; xsrf: string }> {
      const jar = new Jar();
      const page = await get(jar, new URL(`${stack.origin}/dex/device`), headers);
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
      if (!xsrf) throw new Error(`no device form: ${page.status}`);
      return { jar, xsrf };
    }
    const guess = async (i: number, headers: Record<string, string> = {}) => {
      const s = await session(headers);
      const code = `BCDF-${String(i)
        .padStart(4, '0')
        .replace(/\d/g, (d) => 'GHJKLMNPQR'[Number(d)]!)}`;
      return postForm(s.jar, new URL(`${stack.origin}/dex/device`), { xsrf: s.xsrf, user_code: code }, headers);
    };
    const outcome = (r: Answer) =>
      r.status === 200 && r.body.includes('The code you entered is not valid')
        ? 'looked-up-not-valid'
        : r.status === 429 && /Too many codes were tried/.test(r.body)
          ? 'throttled'
          : r.status >= 500
            ? `ERROR-${r.status}`
            : `status-${r.status}`;
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => guess(i)));
    burst.forEach((r, i) =>
      device.check(`concurrent guess #${i}`, ['looked-up-not-valid', 'throttled'], outcome(r), `status ${r.status}`),
    );
    const looked = burst.filter((r) => outcome(r) === 'looked-up-not-valid').length;
    device.check(
      '40 concurrent: lookups',
      'within-limit',
      looked <= DEVICE_PER_ADDRESS ? 'within-limit' : 'OVER-LIMIT',
      `${looked} lookups`,
    );
    const spoofed = await Promise.all(
      Array.from({ length: 40 }, (_, i) => guess(100 + i, { 'x-forwarded-for': `192.0.2.${i + 1}` })),
    );
    spoofed.forEach((r, i) =>
      device.check(`X-Forwarded-For 192.0.2.${i + 1}`, 'throttled', outcome(r), `status ${r.status}`),
    );
    expect(looked).toBeLessThanOrEqual(DEVICE_PER_ADDRESS);
  }, 60_000);
});
