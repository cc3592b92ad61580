/**
 * The adversarial suite's stack: `e2e/src/stack.ts` (nginx with the deploy template, forward-auth, the issuer,
 * the WHATWG sample app) in one of the template's two `proxy_pass` variants, with forward-auth options of the
 * class's choosing, plus what attack classes need to correlate a request with what the app received.
 */
import { randomBytes } from 'node:crypto';
import { APP_BASE, type AppRequestRecord } from '../apps/identity-app.ts';
import type { AppProxyPass } from '../src/edge.ts';
import { PUBLIC_HOST } from '../src/edge.ts';
import { startStack, type Stack, type StackOptions } from '../src/stack.ts';

/** Both variants of the app location: URI passed as sent, and decoded + normalised + re-encoded by nginx. */
export const PROXY_PASS_VARIANTS: readonly AppProxyPass[] = ['http://app', 'http://app/'];

/** The header that tags a request so the app's record of it can be found (`x-` headers reach the app). */
export const CASE_HEADER = 'x-adversarial-case';

/** The host the app reads from a target that names none (`new URL(target, APP_BASE).host`). */
export const APP_BASE_HOST = new URL(APP_BASE).host;

export interface AdversarialOptions extends Omit<StackOptions, 'storage' | 'appProxyPass'> {
  proxyPass: AppProxyPass;
  /** Default SQLite (a fresh file per stack). */
  storage?: StackOptions['storage'];
}

export interface AdversarialStack extends Stack {
  proxyPass: AppProxyPass;
  /** `gatehouse.test` (SNI, Host and certificate name). */
  host: string;
  /** nginx's HTTPS port. */
  port: number;
  /** A fresh case id for CASE_HEADER. */
  caseId(): string;
  /** What the app received for requests tagged with this case id (every request it saw, in order). */
  appSaw(caseId: string): AppRequestRecord[];
}

export async function startAdversarialStack(options: AdversarialOptions): Promise<AdversarialStack> {
  const { proxyPass, storage, ...rest } = options;
  const stack = await startStack({ ...rest, storage: storage ?? { kind: 'sqlite' }, appProxyPass: proxyPass });
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return {
    ...stack,
    proxyPass,
    host: PUBLIC_HOST,
    port: stack.edge.nginx.httpsPort,
    caseId: () => `${prefix}-${++n}`,
    appSaw: (id) => stack.app.requests.filter((r) => r.headers[CASE_HEADER]?.includes(id)),
  };
}
