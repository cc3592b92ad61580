// Issue 11, item 8 (part): Host and forwarded-header poisoning. Every absolute URL nginx, forward-auth or the
// issuer hands back (the sign-in redirect, forward-auth's redirect to the issuer and its redirect_uri, the
// sign-out redirect, the issuer's discovery document) must name the configured host, whatever Host,
// :authority, absolute request target or X-Forwarded-* the client sent; or the request is refused.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { APP_HOST, PUBLIC_HOST } from '../src/edge.ts';
import { closeClients, http1, http2Request, rawExchange, type Answer } from './client.ts';
import { PROXY_PASS_VARIANTS, startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const poisoning = defineClass('host/poisoning');

/** Host values an attacker might send (`{port}` is nginx's port). */
const HOSTILE_HOSTS = [
  'evil.example',
  'evil.example:{port}',
  `${PUBLIC_HOST}.evil.example`,
  `evil${PUBLIC_HOST}`,
  `${PUBLIC_HOST}:1@evil.example`,
  `${PUBLIC_HOST}:{port}@evil.example`,
  `${PUBLIC_HOST}:@evil.example`,
  `${PUBLIC_HOST}:{port}#@evil.example`,
  `${PUBLIC_HOST}:{port}?@evil.example`,
  `${PUBLIC_HOST}:{port}\\@evil.example`,
  `${PUBLIC_HOST}:evil.example`,
  `${PUBLIC_HOST}:{port}:evil.example`,
  `${PUBLIC_HOST}%40evil.example`,
  `evil.example#${PUBLIC_HOST}`,
  '127.0.0.1',
  '127.0.0.1:{port}',
  '[::1]',
  'localhost',
];
/** Spellings of the configured host that nginx accepts as it (must still yield only configured URLs). */
const ODD_GOOD_HOSTS = [
  `${PUBLIC_HOST.toUpperCase()}:{port}`,
  `${PUBLIC_HOST}.:{port}`,
  PUBLIC_HOST,
  `${PUBLIC_HOST}:443`,
];

const ENDPOINTS = [
  '/private/x',
  '/oauth2/start?rd=/private/x',
  '/oauth2/sign_in',
  '/oauth2/sign_out',
  '/dex/.well-known/openid-configuration',
  '/dex/auth?client_id=oauth2-proxy',
];

/** The hosts of every absolute http(s) URL in a response's Location and body (also inside encoded query values). */
function urlHosts(res: Answer): string[] {
  let text = `${String(res.headers.location ?? '')} ${res.body}`;
  for (let i = 0; i < 2; i++) {
    try {
      text += ` ${decodeURIComponent(text)}`;
    } catch {
      // not decodable: the raw text is checked
    }
  }
  const hosts: string[] = [];
  for (const m of text.matchAll(/https?:(?:\/\/|\\\\|\/\\|\\\/)[^\s"'<>]*/g)) {
    try {
      hosts.push(new URL(m[0]).host);
    } catch {
      hosts.push(`unparsable:${m[0].slice(0, 60)}`);
    }
  }
  return hosts;
}

for (const proxyPass of PROXY_PASS_VARIANTS) {
  describe(`Host and forwarded-header poisoning, proxy_pass ${proxyPass}`, () => {
    let stack: AdversarialStack;
    let allowed: Set<string>;
    beforeAll(async () => {
      stack = await startAdversarialStack({ proxyPass });
      allowed = new Set([`${PUBLIC_HOST}:${stack.port}`, `${APP_HOST}:${stack.port}`]);
    });
    afterAll(async () => {
      if (stack) closeClients(stack);
      await stack?.stop();
    });

    const judge = (name: string, res: Answer) => {
      const hosts = urlHosts(res);
      const bad = hosts.filter((h) => !allowed.has(h));
      const outcome =
        bad.length > 0 ? 'POISONED' : res.status >= 400 && res.status < 500 ? 'refused' : 'configured-host-only';
      poisoning.check(
        name,
        ['refused', 'configured-host-only'],
        outcome,
        `status ${res.status}, location ${String(res.headers.location)}, hosts ${JSON.stringify(bad)}`,
      );
    };

    it('Host (HTTP/1.1), :authority (HTTP/2), absolute-form targets and X-Forwarded-* never choose the URLs handed back', async () => {
      for (const endpoint of ENDPOINTS) {
        for (const raw of [...HOSTILE_HOSTS, ...ODD_GOOD_HOSTS]) {
          const h = raw.replace('{port}', String(stack.port));
          const good = `${PUBLIC_HOST}:${stack.port}`;
          judge(
            `Host: ${h} ${endpoint}`,
            await http1(stack, endpoint, { host: h }).catch((e: Error) => ({
              status: 400,
              headers: {},
              body: `client refused: ${e.message}`,
            })),
          );
          judge(
            `:authority ${h} ${endpoint}`,
            await http2Request(stack, endpoint, {}, h).catch(() => ({ status: 400, headers: {}, body: '' })),
          );
          judge(
            `absolute-form https://${h}${endpoint}`,
            (
              await rawExchange(
                stack,
                `GET https://${h}${endpoint} HTTP/1.1\r\nHost: ${good}\r\nConnection: close\r\n\r\n`,
              )
            ).responses[0] ?? { status: 400, headers: {}, body: '' },
          );
          for (const fwd of ['x-forwarded-host', 'x-original-host', 'forwarded', 'x-host']) {
            const value = fwd === 'forwarded' ? `host=${h};proto=http` : h;
            judge(
              `${fwd}: ${value} ${endpoint}`,
              await http1(stack, endpoint, {
                headers: { [fwd]: value, 'x-forwarded-proto': 'http', 'x-forwarded-port': '1' },
              }),
            );
          }
        }
        // Two Host headers, and Host next to a different :authority.
        judge(
          `two Host headers ${endpoint}`,
          (
            await rawExchange(
              stack,
              `GET ${endpoint} HTTP/1.1\r\nHost: ${PUBLIC_HOST}:${stack.port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
            )
          ).responses[0] ?? { status: 400, headers: {}, body: '' },
        );
        judge(
          `:authority good, host evil ${endpoint}`,
          await http2Request(stack, endpoint, { host: 'evil.example' }).catch(() => ({
            status: 400,
            headers: {},
            body: '',
          })),
        );
      }
    });
  });
}
