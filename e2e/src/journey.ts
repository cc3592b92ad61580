// The browser side of the reference flow: what a user does (navigate, pick a connector, fill the Entra form)
// and the exchanges the browser recorded on the way, checked against the seed's steps.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { AppAnswer } from '../apps/identity-app.ts';
import { TrafficRecorder, type Exchange } from './browser.ts';
import { ENTRA_USER, type Stack } from './stack.ts';

export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The JSON the sample app embeds in its page. */
export async function appAnswer(page: Page): Promise<AppAnswer> {
  return JSON.parse((await page.locator('#identity').textContent()) ?? 'null') as AppAnswer;
}

export interface LoginOptions {
  /** The issuer shows its connector choice first (more than one connector). */
  choice: boolean;
  /** Screenshot name prefix; no screenshots when undefined. */
  shots?: string;
  /** Runs while the browser holds the redirect to /oauth2/callback (the issuer's code not yet redeemed). */
  atCallback?: (callbackURL: URL) => Promise<void>;
  /** Path requested first, and where the login must end. Default /gemini-rl. */
  path?: string;
  /** Request this (path and query) first instead of `path`; the login must still end at `path`. */
  startAt?: string;
}

export interface LoginResult {
  exchanges: Exchange[];
  answer: AppAnswer;
}

const isEdge = (stack: Stack, u: URL, path: string) => u.origin === stack.origin && u.pathname === path;

/** Scenario 1 in a real browser: from the protected URL, through the issuer and Entra, back to the app. */
export async function loginWithEntra(page: Page, stack: Stack, options: LoginOptions): Promise<LoginResult> {
  const path = options.path ?? '/gemini-rl';
  const recorder = new TrafficRecorder(page);
  const pause = options.atCallback
    ? await pauseBeforeRedirectTo(page, `${stack.origin}/oauth2/callback`, options.atCallback)
    : undefined;
  try {
    await page.goto(`${stack.origin}${options.startAt ?? path}`);
    if (options.choice) {
      await page.waitForURL((u) => u.origin === stack.origin && u.pathname.startsWith('/dex/'));
      if (options.shots) await screenshot(page, `${options.shots}-1-login-page`);
      await page.getByRole('link', { name: 'Log in with Microsoft' }).click();
    }
    await page.waitForURL((u) => u.origin === stack.entra.url);
    await page.locator('input[name="loginfmt"]').fill(ENTRA_USER.userPrincipalName);
    await page.locator('input[name="passwd"]').fill(ENTRA_USER.password);
    if (options.shots) await screenshot(page, `${options.shots}-2-entra-page`);
    await page.locator('#idSIButton9').click();
    await page.waitForURL((u) => isEdge(stack, u, path), { timeout: 30_000 });
    await page.locator('#identity').waitFor();
    if (options.shots) await screenshot(page, `${options.shots}-3-app-page`);
    if (pause !== undefined) {
      if (!pause.fired()) throw new Error('the redirect to /oauth2/callback was never paused');
      if (pause.error !== undefined) throw new Error('the atCallback hook failed', { cause: pause.error });
    }
    return { exchanges: await recorder.settled(), answer: await appAnswer(page) };
  } catch (err) {
    const text =
      (await page
        .locator('body')
        .textContent({ timeout: 2_000 })
        .catch(() => '')) ?? '';
    await screenshot(page, `failure-${options.shots ?? 'login'}`).catch(() => undefined);
    throw new Error(
      `login stopped at ${page.url()} ("${text.replace(/\s+/g, ' ').trim().slice(0, 300)}"):\n${formatTrace(await recorder.settled())}`,
      { cause: err },
    );
  } finally {
    await pause?.stop();
  }
}

/**
 * Holds every redirect whose Location starts with `target` until `hook` has run (CDP Fetch at the response
 * stage: Playwright's page.route does not see redirect hops). The browser then follows it as usual.
 */
async function pauseBeforeRedirectTo(
  page: Page,
  target: string,
  hook: (location: URL) => Promise<void>,
): Promise<{ fired(): boolean; error: unknown; stop(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  const state = { count: 0, error: undefined as unknown };
  cdp.on('Fetch.requestPaused', (event) => {
    const location = event.responseHeaders?.find((h) => h.name.toLowerCase() === 'location')?.value;
    const run = async () => {
      if (location !== undefined && location.startsWith(target)) {
        state.count++;
        await hook(new URL(location));
      }
    };
    run()
      .catch((err: unknown) => (state.error ??= err))
      .finally(() => cdp.send('Fetch.continueRequest', { requestId: event.requestId }).catch(() => undefined));
  });
  // Only the issuer's answers can carry that redirect.
  await cdp.send('Fetch.enable', {
    patterns: [{ urlPattern: `${new URL(target).origin}/dex/*`, requestStage: 'Response' }],
  });
  return {
    fired: () => state.count > 0,
    get error() {
      return state.error;
    },
    async stop() {
      await cdp.send('Fetch.disable').catch(() => undefined);
      await cdp.detach().catch(() => undefined);
    },
  };
}

/** Finds the first exchange at or after `from` matching `pred`; fails with the whole trace otherwise. */
export function step(
  exchanges: Exchange[],
  from: number,
  what: string,
  pred: (e: Exchange) => boolean,
): { index: number; exchange: Exchange } {
  for (let i = from; i < exchanges.length; i++) {
    const e = exchanges[i] as Exchange;
    if (pred(e)) return { index: i, exchange: e };
  }
  throw new Error(`no exchange for "${what}" after #${from}:\n${formatTrace(exchanges)}`);
}

/** Paths only (query values are codes and states): safe to print. */
export function formatTrace(exchanges: Exchange[]): string {
  return exchanges
    .map((e, i) => {
      const loc = e.location
        ? ` -> ${e.location.origin === e.url.origin ? '' : e.location.origin}${e.location.pathname}`
        : '';
      return `#${i} ${e.method} ${e.url.origin === exchanges[0]?.url.origin ? '' : e.url.origin}${e.url.pathname} ${e.status}${loc} ${e.ms}ms`;
    })
    .join('\n');
}

export function setCookieAttributes(line: string): { name: string; value: string; attrs: Map<string, string> } {
  const [pair = '', ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attrs = new Map<string, string>();
  for (const a of rest) {
    const [k = '', ...v] = a.trim().split('=');
    attrs.set(k.toLowerCase(), v.join('='));
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs };
}
