// Open redirects through whole flows: every hostile and legitimate `rd` of forward-auth's table
// (packages/forward-auth/src/redirect.cases.ts) enters as /oauth2/start?rd=, as X-Auth-Request-Redirect, and as
// the protected URL itself (nginx's sign-in redirect builds rd from it); each goes through the issuer's login
// (mockCallback) and /oauth2/callback. The final Location is always on an allowed host; the table's verdict
// (reject: back to "/", accept: exactly rd) holds at the end of the flow, not only in the validator.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { HOSTILE, LEGITIMATE, WHITELIST, type RedirectCase } from '../../packages/forward-auth/src/redirect.cases.ts';
import { APP_HOST } from '../src/edge.ts';
import { closeClients, http1 } from './client.ts';
import { follow, Jar, type Hop } from './flow.ts';
import { PROXY_PASS_VARIANTS, startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const redirects = defineClass('redirect/whole-flow');

/** Whether a final Location (resolved against the origin) is on the stack's origin or a whitelisted host. */
function allowedHost(url: URL, origin: string): boolean {
  if (url.origin === origin) return true;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username !== '' || url.password !== '') return false;
  const h = url.hostname;
  if (h === APP_HOST) return true;
  if (h === 'app.example.com' || h === 'apps.example.com' || h.endsWith('.apps.example.com')) return url.port === '';
  if (h === 'ports.example.com') return url.port === '8443';
  return h === 'any.example.com';
}

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const headerSafe = (s: string) => /^[\t\u0020-\u007e\u0080-\u00ff]*$/.test(s) && s.trim() === s;
const pathSafe = (s: string) => /^\/[\u0021-\u00ff]*$/.test(s) && !s.includes('#');

for (const proxyPass of PROXY_PASS_VARIANTS) {
  describe(`open redirects through the whole sign-in, proxy_pass ${proxyPass}`, () => {
    let stack: AdversarialStack;
    beforeAll(async () => {
      stack = await startAdversarialStack({
        proxyPass,
        withMockConnector: true,
        forwardAuth: { whitelist_domains: [...WHITELIST, `${APP_HOST}:*`] },
      });
    });
    afterAll(async () => {
      if (stack) closeClients(stack);
      await stack?.stop();
    });

    const stopOutsideAuth = (next: URL) => !next.pathname.startsWith('/dex/') && !next.pathname.startsWith('/oauth2/');
    /** The first request sent as given (target and headers), then the flow followed from its redirect. */
    const firstHop = async (jar: Jar, target: string, headers: Record<string, string>): Promise<Hop[]> => {
      const first = await http1(stack, target, { headers: { ...headers, accept: 'text/html' } });
      jar.store(first);
      const location = typeof first.headers.location === 'string' ? first.headers.location : undefined;
      const hop: Hop = { url: `${stack.origin}${target}`, status: first.status, location };
      if (first.status !== 302 || location === undefined) return [hop];
      return [hop, ...(await follow(stack, jar, new URL(location, stack.origin).href, stopOutsideAuth))];
    };

    it(`${HOSTILE.length + LEGITIMATE.length} rd values × 3 entry points end on an allowed host, as the table says`, async () => {
      const entries: Array<{ c: RedirectCase; via: string; start: (jar: Jar) => Promise<Hop[]> }> = [];
      for (const c of [...HOSTILE, ...LEGITIMATE]) {
        entries.push({
          c,
          via: 'rd',
          start: (jar) =>
            follow(stack, jar, `${stack.origin}/oauth2/start?rd=${encodeURIComponent(c.rd)}`, stopOutsideAuth),
        });
        if (headerSafe(c.rd) && c.rd !== '')
          entries.push({
            c,
            via: 'X-Auth-Request-Redirect',
            start: (jar) => firstHop(jar, '/oauth2/start', { 'x-auth-request-redirect': c.rd }),
          });
        // The target byte for byte (nginx builds the sign-in redirect's rd from it).
        if (pathSafe(c.rd)) entries.push({ c, via: 'protected URL', start: (jar) => firstHop(jar, c.rd, {}) });
      }
      await pool(entries, 4, async ({ c, via, start }) => {
        const hops = await start(new Jar());
        const last = hops.at(-1);
        const reachedCallback = last !== undefined && new URL(last.url).pathname === '/oauth2/callback';
        const final = last?.location === undefined ? undefined : new URL(last.location, last.url);
        let outcome: string;
        if (via === 'protected URL' && hops.length === 1 && hops[0]?.status === 400) outcome = 'refused-by-nginx';
        else if (!reachedCallback || final === undefined)
          outcome = `NO-CALLBACK:${last?.status}:${last?.url.slice(0, 80)}`;
        else if (!allowedHost(final, stack.origin)) outcome = 'OPEN-REDIRECT';
        else if (via !== 'rd') outcome = 'allowed-host';
        else if (c.expect === 'reject')
          outcome = final.href === `${stack.origin}/` ? 'rejected-to-root' : `REJECT-NOT-HONOURED`;
        else outcome = final.href === new URL(c.rd, stack.origin).href ? 'accepted-as-given' : 'ACCEPT-CHANGED';
        redirects.check(
          `${via} ${JSON.stringify(c.rd).slice(0, 80)} (${c.why})`,
          via === 'rd'
            ? c.expect === 'reject'
              ? 'rejected-to-root'
              : 'accepted-as-given'
            : ['allowed-host', 'refused-by-nginx'],
          outcome,
          `final ${final?.href}; hops ${hops.map((h) => `${h.status} ${new URL(h.url).pathname}`).join(' → ')}`,
        );
      });
    });
  });
}
