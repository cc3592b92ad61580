// Path confusion against skip_auth_routes (issue 11, item 1), through real nginx in both proxy_pass variants:
// for every generated target, either forward-auth required a login (nginx answered the sign-in redirect) or
// nginx refused the target itself, or the app served a path the rule allows, read the way the app reads it
// (WHATWG), and decoded as a framework might. The same corpus also goes straight to forward-auth with the URI
// in X-Forwarded-Uri and in X-Original-URL (ingress-nginx's spelling): both must decide alike, and api_routes
// (the JSON 401) may only name paths the app reads as API paths.
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { AppRequestRecord } from '../apps/identity-app.ts';
import { closeClients, http1, http2Client, rawExchange, type Answer } from './client.ts';
import { pathCorpus, rawByteCorpus, sendable, type PathCase } from './path-corpus.ts';
import {
  APP_BASE_HOST,
  CASE_HEADER,
  PROXY_PASS_VARIANTS,
  startAdversarialStack,
  type AdversarialStack,
} from './stack.ts';
import { defineClass } from './tally.ts';

const skipClass = defineClass('path/skip-auth-routes');
const directClass = defineClass('path/forwarded-uri-vs-original-url');

interface RuleSet {
  rule: string;
  /** Whether the rule allows a path as the app reads it. */
  allows(path: string): boolean;
}

const RULE_SETS: RuleSet[] = [
  { rule: 'GET=^/public/', allows: (p) => /^\/public\//.test(p) },
  { rule: 'GET!=^/private(/|$)', allows: (p) => !/^\/private(\/|$)/.test(p) },
];

/** The path as the app read it, and decoded up to three times (a framework that decodes, twice): all allowed. */
function servedAllowed(rules: RuleSet, r: AppRequestRecord): boolean {
  if (r.host !== APP_BASE_HOST) return false;
  let p = r.path;
  for (let i = 0; i < 4; i++) {
    const normalised = new URL(p.replace(/\\/g, '/'), 'http://x.invalid').pathname;
    if (!rules.allows(p) || !rules.allows(normalised) || /(^|\/)\.\.?(\/|;|$)|\/\//.test(p)) return false;
    let next: string;
    try {
      next = decodeURIComponent(p);
    } catch {
      return true; // not decodable: a framework would refuse it
    }
    if (next === p) return true;
    p = next;
  }
  return true;
}

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const corpus = pathCorpus().filter((c) => sendable(c.target));

for (const rules of RULE_SETS) {
  for (const proxyPass of PROXY_PASS_VARIANTS) {
    describe(`skip_auth_routes ${rules.rule}, proxy_pass ${proxyPass}`, () => {
      let stack: AdversarialStack;
      beforeAll(async () => {
        stack = await startAdversarialStack({
          proxyPass,
          forwardAuth: { skip_auth_routes: [rules.rule], api_routes: ['^/api/'] },
        });
      });
      afterAll(async () => {
        if (stack) closeClients(stack);
        await stack?.stop();
      });

      /** What happened to one target: the app's records decide, else nginx's answer. */
      const outcomeOf = (status: number, location: unknown, id: string): { outcome: string; detail: string } => {
        const saw = stack.appSaw(id);
        let outcome: string;
        if (saw.length > 0) outcome = saw.every((r) => servedAllowed(rules, r)) ? 'served-allowed' : 'BYPASS';
        else if (status === 302 && /\/oauth2\/start\?/.test(String(location))) outcome = 'auth-required';
        else if (status >= 400 && status < 500) outcome = 'refused-by-nginx';
        else outcome = `unexpected-${status}`;
        return {
          outcome,
          detail: `status ${status}, app saw ${JSON.stringify(saw.map((r) => ({ raw: r.rawURL, host: r.host, path: r.path })))}`,
        };
      };
      const EXPECTED = ['auth-required', 'refused-by-nginx', 'served-allowed'];

      it(`${corpus.length} targets over HTTP/1.1: a login is required, or nginx refuses, or the app serves an allowed path`, async () => {
        await pool(corpus, 8, async (c: PathCase) => {
          const id = stack.caseId();
          const res = await http1(stack, c.target, { headers: { [CASE_HEADER]: id } });
          const { outcome, detail } = outcomeOf(res.status, res.headers.location, id);
          skipClass.check(`HTTP/1.1 ${proxyPass} ${rules.rule} ${c.kind} ${c.target}`, EXPECTED, outcome, detail);
        });
      });

      it('the issue 11 reproductions, 50 concurrent copies each, next to 50 plain public requests', async () => {
        const repro = [
          '/public/x%23/../../private/secret',
          '/public/x%23%2F..%2F..%2Fprivate%2Fsecret',
          '//public/private/secret',
          '/public/..%2Fprivate/secret',
        ];
        const jobs = [
          ...repro.flatMap((t) => Array.from({ length: 50 }, () => ({ kind: 'repro', target: t }))),
          ...Array.from({ length: 50 }, () => ({ kind: 'plain', target: '/public/x' })),
        ];
        await Promise.all(
          jobs.map(async (c) => {
            const id = stack.caseId();
            const res = await http1(stack, c.target, { headers: { [CASE_HEADER]: id } });
            const { outcome, detail } = outcomeOf(res.status, res.headers.location, id);
            // The plain request is served (both rules allow /public/x); a reproduction never reaches the app.
            skipClass.check(
              `concurrent ${proxyPass} ${rules.rule} ${c.target}`,
              c.kind === 'plain' ? 'served-allowed' : ['auth-required', 'refused-by-nginx'],
              outcome,
              detail,
            );
          }),
        );
      });

      it(`the same ${corpus.length} targets as HTTP/2 :path`, async () => {
        const h2 = http2Client(stack);
        try {
          await pool(corpus, 8, async (c: PathCase) => {
            const id = stack.caseId();
            const res = await h2
              .request(c.target, { [CASE_HEADER]: id })
              .catch((): Answer => ({ status: 400, headers: {}, body: '' }));
            const { outcome, detail } = outcomeOf(res.status, res.headers.location, id);
            skipClass.check(`HTTP/2 ${proxyPass} ${rules.rule} ${c.kind} ${c.target}`, EXPECTED, outcome, detail);
          });
        } finally {
          h2.close();
        }
      });

      it(`${rawByteCorpus().length} targets with raw bytes no HTTP client sends (controls, space, DEL, non-ASCII), on a raw socket`, async () => {
        await pool(rawByteCorpus(), 4, async (c: PathCase) => {
          const id = stack.caseId();
          const head = `GET ${c.target} HTTP/1.1\r\nHost: ${stack.host}:${stack.port}\r\n${CASE_HEADER}: ${id}\r\nConnection: close\r\n\r\n`;
          const { responses } = await rawExchange(stack, Buffer.from(head, 'latin1'), 600);
          const res = responses[0] ?? { status: 0, headers: {}, body: '' };
          const { outcome, detail } = outcomeOf(res.status, res.headers.location, id);
          skipClass.check(
            `raw ${proxyPass} ${rules.rule} ${c.kind} ${JSON.stringify(c.target)}`,
            EXPECTED,
            outcome,
            detail,
          );
        });
      });

      if (proxyPass === 'http://app') {
        it('forward-auth decides alike on X-Forwarded-Uri and on X-Original-URL, and api_routes name only API paths', async () => {
          const auth = stack.forwardAuth.url;
          await pool(
            [
              ...corpus,
              ...corpus.map((c) => ({ kind: `api-${c.kind}`, target: c.target.replace('/public/', '/api/') })),
            ],
            8,
            async (c) => {
              const ask = async (headers: Record<string, string>) => {
                const res = await fetch(`${auth}/oauth2/auth`, {
                  headers: { 'x-forwarded-method': 'GET', ...headers },
                });
                const body = await res.text();
                return res.status === 202
                  ? 'skipped'
                  : res.status === 401 && body.includes('"unauthorized"')
                    ? 'api-401'
                    : `status-${res.status}`;
              };
              const viaUri = await ask({ 'x-forwarded-uri': c.target });
              const viaOriginal = await ask({ 'x-original-url': `https://${stack.host}${c.target}` });
              const apiOk = viaUri !== 'api-401' || /^\/api\//.test(new URL(c.target, 'http://app.invalid').pathname);
              const skipOk =
                viaUri !== 'skipped' ||
                servedAllowed(rules, {
                  host: new URL(c.target, 'http://app.invalid').host,
                  path: new URL(c.target, 'http://app.invalid').pathname,
                } as AppRequestRecord);
              directClass.check(
                `${rules.rule} ${c.kind} ${c.target}`,
                'agree',
                viaUri === viaOriginal && apiOk && skipOk ? 'agree' : 'DISAGREE',
                `X-Forwarded-Uri → ${viaUri}, X-Original-URL → ${viaOriginal}`,
              );
            },
          );
        });
      }
    });
  }
}
