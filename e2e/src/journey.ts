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
  /** Path requested first. Default /gemini-rl. */
  path?: string;
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
  const callbackRoute = (u: URL) => isEdge(stack, u, '/oauth2/callback');
  if (options.atCallback) {
    const hook = options.atCallback;
    await page.route(callbackRoute, async (route) => {
      await hook(new URL(route.request().url()));
      await route.continue();
    });
  }
  try {
    await page.goto(`${stack.origin}${path}`);
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
    return { exchanges: await recorder.settled(), answer: await appAnswer(page) };
  } catch (err) {
    const text = (await page.locator('body').textContent({ timeout: 2_000 }).catch(() => '')) ?? '';
    await screenshot(page, `failure-${options.shots ?? 'login'}`).catch(() => undefined);
    throw new Error(`login stopped at ${page.url()} ("${text.replace(/\s+/g, ' ').trim().slice(0, 300)}"):\n${formatTrace(await recorder.settled())}`, { cause: err });
  } finally {
    if (options.atCallback) await page.unroute(callbackRoute);
  }
}

/** Finds the first exchange at or after `from` matching `pred`; fails with the whole trace otherwise. */
export function step(exchanges: Exchange[], from: number, what: string, pred: (e: Exchange) => boolean): { index: number; exchange: Exchange } {
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
      const loc = e.location ? ` -> ${e.location.origin === e.url.origin ? '' : e.location.origin}${e.location.pathname}` : '';
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
