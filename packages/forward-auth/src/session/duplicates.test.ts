// Cookie tossing: a sibling subdomain (Domain=parent) or a `Path=/x` cookie puts a second session cookie next to
// ours. The browser sends both, longer Path first, then older first, so position says nothing about which one we
// set: a request whose session cookies belong to different users has no session.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createForwardAuthHandler } from '../router.ts';
import type { Session } from './payload.ts';

const h = createForwardAuthHandler(
  {
    oidc_issuer_url: 'http://127.0.0.1:9/dex',
    client_id: 'oauth2-proxy',
    client_secret: 'secret',
    redirect_url: 'https://app.example.com/oauth2/callback',
    cookie_secret: randomBytes(32).toString('base64'),
    email_domains: ['*'],
    set_xauthrequest: true,
  },
  { logger: pino({ level: 'silent' }) },
);

function sealed(user: string, over: Partial<Session> = {}): string {
  const now = Date.now();
  const session: Session = {
    user,
    email: `${user}@example.com`,
    groups: [],
    createdAt: now,
    expiresAt: now + 3_600_000,
    ...over,
  };
  return h.context.sessions.seal(session, 'app.example.com', undefined).value;
}

async function whoIs(cookie: string): Promise<string | number> {
  const r = await request(h).get('/oauth2/auth').set('Cookie', cookie);
  return r.status === 202 ? (r.headers['x-auth-request-user'] as string) : r.status;
}

describe('session cookie parsing and tossing', () => {
  const victim = sealed('victim');
  const attacker = sealed('attacker');

  it('a space is no separator: `pref=x _oauth2_proxy=<attacker>; _oauth2_proxy=<victim>` is the victim', async () => {
    expect(await whoIs(`pref=x _oauth2_proxy=${attacker}; _oauth2_proxy=${victim}`)).toBe('victim');
    expect(await whoIs(`pref=x\t_oauth2_proxy=${attacker}; _oauth2_proxy=${victim}`)).toBe('victim');
    expect(await whoIs(`pref=x _oauth2_proxy=${attacker}`)).toBe(401);
  });

  it('two session cookies of different users: no session, in either order', async () => {
    expect(await whoIs(`_oauth2_proxy=${attacker}; _oauth2_proxy=${victim}`)).toBe(401);
    expect(await whoIs(`_oauth2_proxy=${victim}; _oauth2_proxy=${attacker}`)).toBe(401);
    expect(h.context.metrics.hot.cache.conflict).toBeGreaterThanOrEqual(2);
  });

  it('a whole cookie next to chunks of another user: no session', async () => {
    const big = h.context.sessions.seal(
      {
        user: 'victim',
        groups: Array.from({ length: 400 }, () => randomBytes(12).toString('hex')),
        createdAt: Date.now(),
        expiresAt: Date.now() + 3_600_000,
      },
      'app.example.com',
      undefined,
    );
    expect(big.written.length).toBeGreaterThan(1);
    const chunks = big.written.map((c) => c.split(';')[0]).join('; ');
    expect(await whoIs(chunks)).toBe('victim');
    expect(await whoIs(`_oauth2_proxy=${attacker}; ${chunks}`)).toBe(401);
    expect(await whoIs(`${chunks}; _oauth2_proxy_0=${attacker.slice(0, 100)}`)).toBe(401); // a chunk name twice
  });

  it('copies of one user resolve (an old host-only cookie next to a cookie_domains one): the newest', async () => {
    const older = sealed('victim', { createdAt: Date.now() - 60_000, groups: ['old'] });
    const newer = sealed('victim', { groups: ['new'] });
    for (const cookie of [
      `_oauth2_proxy=${older}; _oauth2_proxy=${newer}`,
      `_oauth2_proxy=${newer}; _oauth2_proxy=${older}`,
    ]) {
      const r = await request(h).get('/oauth2/auth').set('Cookie', cookie);
      expect(r.status).toBe(202);
      expect(r.headers['x-auth-request-groups']).toBe('new');
    }
  });

  it('unreadable copies are ignored, so junk tossed next to a session cannot log its owner out', async () => {
    expect(await whoIs(`_oauth2_proxy=junk; _oauth2_proxy=${victim}; _oauth2_proxy=`)).toBe('victim');
  });
});

describe('the other cookies read by name', () => {
  it("a CSRF cookie sent twice under one flow's name is refused, not picked by position", () => {
    const csrf = h.context.csrf;
    const { flow, setCookie } = csrf.start('/app', undefined, (maxAge) =>
      h.context.sessions.attributes(undefined, maxAge),
    );
    const mine = (setCookie[0] as string).split(';')[0] as string;
    expect(csrf.take(flow.state, mine).ok).toBe(true);
    const name = mine.split('=')[0] as string;
    expect(csrf.take(flow.state, `${name}=tossed; ${mine}`)).toMatchObject({
      ok: false,
      reason: 'invalid',
      cookieName: name,
    });
    expect(csrf.take(flow.state, `pref=x ${mine}`)).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('the sign-out state cookie sent twice carries no rd', () => {
    const states = h.context.signOuts;
    const { state, setCookie } = states.start('/after', (maxAge) => h.context.sessions.attributes(undefined, maxAge));
    const mine = setCookie.split(';')[0] as string;
    expect(states.take(state, mine)).toBe('/after');
    expect(states.take(state, `${mine}; ${mine}`)).toBeUndefined();
  });

  it('the callback deletes the copies it could have set under the other Domain variants', () => {
    const multi = createForwardAuthHandler(
      { ...h.context.cfg, cookie_domains: ['example.com', 'apps.example.com', 'other.org'] },
      { logger: pino({ level: 'silent' }) },
    );
    const out = multi.context.sessions.clearOtherCopies(
      'apps.example.com',
      'x.apps.example.com',
      '_oauth2_proxy=a; _oauth2_proxy_0=b; other=c',
    );
    expect(out.map((c) => `${c.split(';')[0]} ${/Domain=([^;]+)/.exec(c)?.[1] ?? 'host-only'}`).sort()).toEqual([
      '_oauth2_proxy= example.com',
      '_oauth2_proxy= host-only',
      '_oauth2_proxy_0= example.com',
      '_oauth2_proxy_0= host-only',
    ]);
    expect(multi.context.sessions.clearOtherCopies('apps.example.com', 'x.apps.example.com', 'other=c')).toEqual([]);
  });
});
