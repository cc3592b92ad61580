// Cookie parsing and tossing, through nginx with the deploy template: a generated corpus of Cookie headers that put
// an attacker's valid session next to (or inside) the victim's: separators, whitespace, quoting, duplicates, chunk
// names, and the orders a browser sends tossed `Domain=<parent>` / `Path=/x` cookies in (RFC 6265 §5.4). The app
// must never see the attacker's identity; the victim's, or no session (the sign-in redirect), per the stated rule.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '@gatehouse/forward-auth';
import { closeClients, http1 } from './client.ts';
import { Jar, follow } from './flow.ts';
import { CASE_HEADER, startAdversarialStack, type AdversarialStack } from './stack.ts';
import { defineClass } from './tally.ts';

const parsing = defineClass('cookies/parsing-and-tossing');
const csrfTossing = defineClass('cookies/csrf-tossing');

const N = '_oauth2_proxy';

/** Separators between two pairs, and whether RFC 6265 reads them as a pair boundary (only ";" is one). */
const SEPARATORS: ReadonlyArray<{ s: string; splits: boolean }> = [
  { s: '; ', splits: true },
  { s: ';', splits: true },
  { s: ';\t', splits: true },
  { s: ' ;', splits: true },
  { s: ' ; ', splits: true },
  { s: ';;', splits: true },
  { s: '; ; ', splits: true },
  { s: ' ', splits: false },
  { s: '  ', splits: false },
  { s: '\t', splits: false },
  { s: ',', splits: false },
  { s: ', ', splits: false },
];

/** Spellings of one pair that RFC 6265 parsing reads as name N, value v. */
const SPELLINGS: ReadonlyArray<(n: string, v: string) => string> = [
  (n, v) => `${n}=${v}`,
  (n, v) => `${n} =${v}`,
  (n, v) => `${n}= ${v}`,
  (n, v) => `${n}\t=\t${v}`,
  (n, v) => ` ${n}=${v} `,
  (n, v) => `${n}="${v}"`,
];

/** Names that are not ours (case, prefixes, suffixes, encodings): a value under them is ignored. */
const NOT_OUR_NAME = [
  `_OAUTH2_PROXY`,
  `${N}_`,
  `x${N}`,
  `${N}.`,
  `__Host-${N}`,
  `${N}%00`,
  `%5Foauth2_proxy`,
  `${N}_csrf`,
  `${N}_signout`,
  `${N}_x`,
];

interface Case {
  name: string;
  cookie: string | string[];
  expect: 'victim' | 'anonymous';
}

/** The order a browser sends cookies in: longer Path first, then earlier creation (RFC 6265 §5.4 step 2). */
function browserOrder(
  cookies: ReadonlyArray<{ pair: string; path: string; created: number }>,
  requestPath: string,
): string {
  return cookies
    .filter((c) => c.path === '/' || requestPath === c.path || requestPath.startsWith(`${c.path}/`))
    .sort((a, b) => b.path.length - a.path.length || a.created - b.created)
    .map((c) => c.pair)
    .join('; ');
}

function corpus(v: {
  victim: string;
  attacker: string;
  victimOld: string;
  victimChunks: string[];
  attackerChunks: string[];
}): Case[] {
  const out: Case[] = [];
  SEPARATORS.forEach(({ s, splits }, si) =>
    SPELLINGS.forEach((sp, pi) => {
      out.push({
        name: `junk${JSON.stringify(s)}victim/spelling${pi}`,
        cookie: `pref=x${s}${sp(N, v.victim)}`,
        expect: splits ? 'victim' : 'anonymous',
      });
      // The report's case: the attacker's cookie inside another cookie's value, then the victim's.
      out.push({
        name: `smuggled${si}/spelling${pi}`,
        cookie: `pref=x${s}${sp(N, v.attacker)}; ${sp(N, v.victim)}`,
        expect: splits ? 'anonymous' : 'victim',
      });
      // Alone and inside another value, the attacker's cookie is no cookie at all. (Alone after a real ";" it is a
      // session the browser holds, not tossing we can detect: see README, login CSRF.)
      if (!splits)
        out.push({
          name: `smuggled-only${si}/spelling${pi}`,
          cookie: `pref=x${s}${sp(N, v.attacker)}`,
          expect: 'anonymous',
        });
    }),
  );
  SPELLINGS.forEach((a, ai) =>
    SPELLINGS.forEach((b, bi) => {
      out.push({
        name: `duplicate/attacker-first/${ai}-${bi}`,
        cookie: `${a(N, v.attacker)}; ${b(N, v.victim)}`,
        expect: 'anonymous',
      });
      out.push({
        name: `duplicate/victim-first/${ai}-${bi}`,
        cookie: `${a(N, v.victim)}; ${b(N, v.attacker)}`,
        expect: 'anonymous',
      });
    }),
  );
  out.push({
    name: 'duplicate/three',
    cookie: `${N}=${v.attacker}; ${N}=${v.victim}; ${N}=${v.attacker}`,
    expect: 'anonymous',
  });
  out.push({
    name: 'duplicate/same-user-old-first',
    cookie: `${N}=${v.victimOld}; ${N}=${v.victim}`,
    expect: 'victim',
  });
  out.push({
    name: 'duplicate/same-user-new-first',
    cookie: `${N}=${v.victim}; ${N}=${v.victimOld}`,
    expect: 'victim',
  });
  for (const junk of ['', 'junk', '""', v.victim.slice(0, 40), `${v.attacker.slice(0, -2)}AA`]) {
    out.push({
      name: `duplicate/unreadable-copy:${junk.length}`,
      cookie: `${N}=${junk}; ${N}=${v.victim}`,
      expect: 'victim',
    });
  }
  out.push({ name: 'nameless/victim-value', cookie: `=${v.victim}`, expect: 'anonymous' });
  out.push({ name: 'nameless/bare-value', cookie: `${v.victim}; pref=x`, expect: 'anonymous' });
  for (const other of NOT_OUR_NAME) {
    out.push({
      name: `other-name/${other}+victim`,
      cookie: `${other}=${v.attacker}; ${N}=${v.victim}`,
      expect: 'victim',
    });
    out.push({ name: `other-name/${other}-only`, cookie: `${other}=${v.attacker}`, expect: 'anonymous' });
  }
  // Chunk-name confusion.
  const vc = v.victimChunks.map((c, i) => `${N}_${i}=${c}`);
  const ac = v.attackerChunks.map((c, i) => `${N}_${i}=${c}`);
  out.push({ name: 'chunks/victim', cookie: vc.join('; '), expect: 'victim' });
  out.push({ name: 'chunks/victim-reversed', cookie: [...vc].reverse().join('; '), expect: 'victim' });
  out.push({
    name: 'chunks/attacker-whole+victim-chunks',
    cookie: `${N}=${v.attacker}; ${vc.join('; ')}`,
    expect: 'anonymous',
  });
  out.push({
    name: 'chunks/victim-chunks+attacker-whole',
    cookie: `${vc.join('; ')}; ${N}=${v.attacker}`,
    expect: 'anonymous',
  });
  out.push({
    name: 'chunks/victim-whole+attacker-chunks',
    cookie: `${ac.join('; ')}; ${N}=${v.victim}`,
    expect: 'anonymous',
  });
  out.push({
    name: 'chunks/victim-whole+junk-chunks',
    cookie: `${N}_0=junk; ${N}_1=junk; ${N}=${v.victim}`,
    expect: 'victim',
  });
  out.push({ name: 'chunks/interleaved', cookie: `${ac[0]}; ${vc[1]}`, expect: 'anonymous' });
  out.push({ name: 'chunks/chunk0-twice', cookie: `${ac[0]}; ${vc.join('; ')}`, expect: 'anonymous' });
  out.push({
    name: 'chunks/victim+tossed-chunk2',
    cookie: `${vc.join('; ')}; ${N}_${vc.length}=${randomBytes(30).toString('base64url')}`,
    expect: 'anonymous',
  });
  // Several Cookie header lines (nginx passes each; forward-auth joins them with "; " as Node does).
  out.push({ name: 'lines/attacker+victim', cookie: [`${N}=${v.attacker}`, `${N}=${v.victim}`], expect: 'anonymous' });
  out.push({ name: 'lines/pref+victim', cookie: [`pref=x ${N}=${v.attacker}`, `${N}=${v.victim}`], expect: 'victim' });
  // Tossed from a sibling subdomain (Domain=<parent>: a separate cookie) under every Path, created before or
  // after the victim's, requested at every path: wherever both are sent, no session.
  for (const path of ['/', '/private', '/private/x', '/other']) {
    for (const created of [-1, 1]) {
      for (const requestPath of ['/private/x', '/private/x/y', '/other/z']) {
        const header = browserOrder(
          [
            { pair: `${N}=${v.victim}`, path: '/', created: 0 },
            { pair: `${N}=${v.attacker}`, path, created },
          ],
          requestPath,
        );
        const both = header.includes(v.attacker);
        out.push({
          name: `tossed/path=${path}/created${created > 0 ? 'after' : 'before'}/at=${requestPath}`,
          cookie: header,
          expect: both ? 'anonymous' : 'victim',
        });
      }
    }
  }
  return out;
}

describe('cookie parsing and tossing through nginx (proxy_pass http://app)', () => {
  let stack: AdversarialStack;
  let values: Parameters<typeof corpus>[0];

  beforeAll(async () => {
    stack = await startAdversarialStack({ proxyPass: 'http://app', withMockConnector: true });
    const sessions = stack.forwardAuth.handler.context.sessions;
    const now = Date.now();
    const seal = (user: string, over: Partial<Session> = {}) => {
      const s: Session = {
        user,
        email: `${user}@company.com`,
        groups: ['g'],
        createdAt: now,
        expiresAt: now + 3_600_000,
        ...over,
      };
      return sessions.seal(s, stack.host, undefined);
    };
    const chunked = (user: string) =>
      seal(user, { groups: Array.from({ length: 400 }, () => randomBytes(12).toString('base64url')) }).written.map(
        (c) => (c.split(';')[0] as string).split('=')[1] as string,
      );
    values = {
      victim: seal('victim').value,
      attacker: seal('attacker').value,
      victimOld: seal('victim', { createdAt: now - 60_000 }).value,
      victimChunks: chunked('victim'),
      attackerChunks: chunked('attacker'),
    };
    expect(values.victimChunks.length).toBeGreaterThanOrEqual(2);
  });
  afterAll(async () => {
    if (stack) closeClients(stack);
    await stack?.stop();
  });

  it('the app sees the victim or nobody, never the attacker', async () => {
    const cases = corpus(values);
    for (const c of cases) {
      const id = stack.caseId();
      const res = await http1(stack, '/private/x', { headers: { [CASE_HEADER]: id, cookie: c.cookie } });
      const saw = stack.appSaw(id);
      const who = saw[0]?.identity?.user;
      const outcome =
        saw.length > 0
          ? who === 'victim'
            ? 'victim'
            : who === 'attacker'
              ? 'ATTACKER'
              : `served-as:${String(who)}`
          : res.status === 302 && String(res.headers.location).includes('/oauth2/start')
            ? 'anonymous'
            : `status-${res.status}`;
      parsing.check(c.name, c.expect, outcome, `cookie ${JSON.stringify(c.cookie).slice(0, 200)}`);
    }
    expect(cases.length).toBeGreaterThan(300);
  });

  it("a CSRF cookie tossed next to the flow's own makes the callback refuse the login", async () => {
    for (const tossed of ['junk', 'duplicate-of-own', 'none']) {
      const jar = new Jar();
      const hops = await follow(
        stack,
        jar,
        `${stack.origin}/oauth2/start?rd=%2Fprivate%2Fx`,
        (next) => next.pathname === '/oauth2/callback',
      );
      const callback = hops.at(-1)?.location;
      expect(callback, JSON.stringify(hops)).toContain('/oauth2/callback');
      const url = new URL(callback as string, stack.origin);
      const csrf = jar
        .header()
        .split('; ')
        .find((p) => /_csrf=/.test(p)) as string;
      const extra =
        tossed === 'junk' ? `; ${csrf.split('=')[0]}=junk` : tossed === 'duplicate-of-own' ? `; ${csrf}` : '';
      const res = await http1(stack, url.pathname + url.search, { headers: { cookie: `${jar.header()}${extra}` } });
      const outcome = res.status === 302 ? 'signed-in' : res.status === 403 ? 'login-refused' : `status-${res.status}`;
      csrfTossing.check(`csrf/${tossed}`, tossed === 'none' ? 'signed-in' : 'login-refused', outcome);
    }
  });
});
