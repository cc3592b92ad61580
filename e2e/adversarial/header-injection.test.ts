// Identity-header injection: whatever identity, routing or proxy headers a client sends (any case, `_` for
// `-`, twice, obs-folded, over HTTP/1.1 or HTTP/2), the app sees only what nginx and forward-auth set: the
// signed-in user's identity or none, and no client-chosen value under any name an app or framework might read
// as identity, as the request's URL or method, or as a proxy fact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRequestRecord } from '../apps/identity-app.ts';
import { closeClients, http2Request, rawExchange } from './client.ts';
import { Jar, signIn } from './flow.ts';
import { CASE_HEADER, PROXY_PASS_VARIANTS, startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const injection = defineClass('headers/identity-injection');

/** Headers a client must never choose for the app. */
export const FORGEABLE = [
  // forward-auth's answers (ingress-nginx's auth-response-headers) and oauth2-proxy's pass_user_headers names.
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Preferred-Username',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Access-Token',
  'X-Forwarded-User',
  'X-Forwarded-Email',
  'X-Forwarded-Preferred-Username',
  'X-Forwarded-Groups',
  'X-Forwarded-Access-Token',
  // The original URL and method as frameworks read them (Symfony, IIS, Express method-override, ...).
  'X-Original-URL',
  'X-Original-URI',
  'X-Rewrite-URL',
  'X-Original-Method',
  'X-Forwarded-Uri',
  'X-Forwarded-Method',
  'X-HTTP-Method-Override',
  'X-HTTP-Method',
  'X-Method-Override',
  // Proxy facts nginx states.
  'X-Forwarded-For',
  'X-Forwarded-Host',
  'X-Forwarded-Proto',
  'X-Forwarded-Port',
  'X-Real-IP',
  'X-Gatehouse-Proxy-Secret',
] as const;

const normal = (name: string) => name.toLowerCase().replace(/_/g, '-');
const FORGEABLE_NORMAL = new Set(FORGEABLE.map(normal));

/** The ways one header line can be spelled on HTTP/1.1 (`%v` is the value). */
const SPELLINGS: Record<string, (name: string) => string> = {
  'as-is': (n) => `${n}: %v\r\n`,
  lower: (n) => `${n.toLowerCase()}: %v\r\n`,
  upper: (n) => `${n.toUpperCase()}: %v\r\n`,
  underscores: (n) => `${n.replace(/-/g, '_')}: %v\r\n`,
  twice: (n) => `${n}: %v\r\n${n.toLowerCase()}: %v\r\n`,
  'no-space': (n) => `${n}:%v\r\n`,
  'space-before-colon': (n) => `${n} : %v\r\n`,
  'obs-fold-value': (n) => `${n}: a\r\n %v\r\n`,
  'obs-fold-hidden': (n) => `X-Harmless: a\r\n ${n}: %v\r\n`,
  tab: (n) => `${n}:\t%v\t\r\n`,
};

function forged(r: AppRequestRecord, marker: string): string[] {
  return Object.entries(r.headers)
    .filter(([name, values]) => FORGEABLE_NORMAL.has(normal(name)) && values.some((v) => v.includes(marker)))
    .map(([name]) => name);
}

for (const proxyPass of PROXY_PASS_VARIANTS) {
  describe(`identity-header injection, proxy_pass ${proxyPass}`, () => {
    let stack: AdversarialStack;
    let cookie: string;
    let realUser: AppRequestRecord['identity'];
    beforeAll(async () => {
      stack = await startAdversarialStack({
        proxyPass,
        withMockConnector: true,
        forwardAuth: { skip_auth_routes: ['GET=^/public/'] },
      });
      const jar = new Jar();
      await signIn(stack, jar, '/private/x');
      cookie = jar.header();
    });
    afterAll(async () => {
      if (stack) closeClients(stack);
      await stack?.stop();
    });

    const judge = (name: string, id: string, marker: string, status: number, signedIn: boolean) => {
      const saw = stack.appSaw(id);
      let outcome: string;
      if (saw.length === 0)
        outcome = status === 400 ? 'refused-by-nginx' : status === 302 ? 'auth-required' : `unexpected-${status}`;
      else {
        const bad = saw.flatMap((r) => forged(r, marker));
        const identityOk = saw.every(
          (r) =>
            (signedIn ? JSON.stringify(r.identity) === JSON.stringify(realUser) : r.identity === null) && r.viaProxy,
        );
        outcome = bad.length > 0 ? `FORGED:${bad.join(',')}` : identityOk ? 'clean' : 'WRONG-IDENTITY';
      }
      // A signed-in request must reach the app; without a session /public/ is skipped, so it must too.
      injection.check(
        name,
        ['clean', 'refused-by-nginx'],
        outcome,
        `status ${status}; app saw ${JSON.stringify(saw.map((r) => ({ identity: r.identity, headers: r.headers })))}`,
      );
    };

    it('the signed-in identity is what the app sees, and no header a client sent reaches it under a trusted name', async () => {
      // The baseline: the identity forward-auth answers for this session.
      const id0 = stack.caseId();
      await rawExchange(
        stack,
        `GET /private/x HTTP/1.1\r\nHost: ${stack.host}:${stack.port}\r\nCookie: ${cookie}\r\n${CASE_HEADER}: ${id0}\r\nConnection: close\r\n\r\n`,
      );
      realUser = stack.appSaw(id0)[0]?.identity ?? null;
      expect(realUser?.email).toBe('kilgore@kilgore.trout');

      for (const signedIn of [true, false]) {
        const path = signedIn ? '/private/x' : '/public/x';
        for (const header of FORGEABLE) {
          for (const [spelling, line] of Object.entries(SPELLINGS)) {
            const id = stack.caseId();
            const marker = `EVIL${id}`;
            const bytes = `GET ${path} HTTP/1.1\r\nHost: ${stack.host}:${stack.port}\r\n${signedIn ? `Cookie: ${cookie}\r\n` : ''}${line(header).replaceAll('%v', marker)}${CASE_HEADER}: ${id}\r\nConnection: close\r\n\r\n`;
            const { responses } = await rawExchange(stack, bytes);
            judge(
              `HTTP/1.1 ${signedIn ? 'signed in' : 'anonymous'} ${header} ${spelling}`,
              id,
              marker,
              responses[0]?.status ?? 0,
              signedIn,
            );
          }
          for (const [spelling, name, twice] of [
            ['lower', header.toLowerCase(), false],
            ['underscores', header.toLowerCase().replace(/-/g, '_'), false],
            ['twice', header.toLowerCase(), true],
          ] as const) {
            const id = stack.caseId();
            const marker = `EVIL${id}`;
            const headers: Record<string, string | string[]> = {
              [name]: twice ? [marker, marker] : marker,
              [CASE_HEADER]: id,
            };
            if (signedIn) headers.cookie = cookie;
            const res = await http2Request(stack, path, headers).catch(() => ({ status: 400, headers: {}, body: '' }));
            judge(
              `HTTP/2 ${signedIn ? 'signed in' : 'anonymous'} ${header} ${spelling}`,
              id,
              marker,
              res.status,
              signedIn,
            );
          }
        }
      }
    });
  });
}
