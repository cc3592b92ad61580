/**
 * Headless Debian Chromium driven by playwright-core (no downloaded browser). Test host names resolve to
 * loopback through `--host-resolver-rules`; test certificates are trusted by their public-key hash
 * (`--ignore-certificate-errors-spki-list`), so every other certificate error still fails the page.
 */
import { locate, programSpec, requireProgram } from '@gatehouse/testkit/programs';
import { spkiHash } from '@gatehouse/testkit/tls';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export interface BrowserOptions {
  /** Host names mapped to 127.0.0.1 (e.g. `gatehouse.test`); none for `*.localhost`, which Chromium resolves itself. */
  hosts: string[];
  /** Certificates, PEM, whose keys Chromium accepts in a server's chain (a leaf, or a CA the server sends). */
  trustedCerts: string[];
  /** Extra Chromium flags (e.g. a fake's own `chromiumArgs`). */
  extraArgs?: string[];
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookie jar). */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

export { spkiHash };

export function chromiumAvailable(): boolean {
  return locate(programSpec('chromium')) !== undefined;
}

export async function launchBrowser(options: BrowserOptions): Promise<TestBrowser> {
  const rules = options.hosts.map((h) => `MAP ${h} 127.0.0.1`).join(',');
  const spkis = options.trustedCerts.map(spkiHash);
  const extra = options.extraArgs ?? [];
  // Fold every --ignore-certificate-errors-spki-list into one flag: Chromium keeps only the last one given.
  const spkiFlag = '--ignore-certificate-errors-spki-list=';
  const extraSpkis = extra.filter((a) => a.startsWith(spkiFlag)).flatMap((a) => a.slice(spkiFlag.length).split(','));
  const otherExtra = extra.filter((a) => !a.startsWith(spkiFlag));
  const browser = await chromium.launch({
    // A missing Chromium fails here with the install command, not after playwright's launch timeout.
    executablePath: requireProgram('chromium'),
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable',
      ...(rules === '' ? [] : [`--host-resolver-rules=${rules}`]),
      `${spkiFlag}${[...spkis, ...extraSpkis].join(',')}`,
      ...otherExtra,
    ],
  });
  return {
    browser,
    newContext: () => browser.newContext({ viewport: { width: 1100, height: 760 } }),
    close: () => browser.close(),
  };
}

/** One HTTP exchange the page made, as the browser saw it. Query values are kept: tests assert on them. */
export interface Exchange {
  method: string;
  url: URL;
  status: number;
  location: URL | undefined;
  setCookies: string[];
  /** Request start (ms since the recorder started) and duration to the end of the response headers. */
  startMs: number;
  ms: number;
}

/** Records every request/response of a page, including each redirect hop, in order. */
export class TrafficRecorder {
  readonly exchanges: Exchange[] = [];
  readonly #t0 = Date.now();
  readonly #pending: Promise<void>[] = [];

  constructor(page: Page) {
    page.on('response', (response) => {
      const request = response.request();
      const started = Date.now();
      this.#pending.push(
        response.headersArray().then((headers) => {
          const timing = request.timing();
          const location = headers.find((h) => h.name.toLowerCase() === 'location')?.value;
          const url = new URL(request.url());
          const startMs = timing.startTime > 0 ? Math.round(timing.startTime - this.#t0) : started - this.#t0;
          this.exchanges.push({
            method: request.method(),
            url,
            status: response.status(),
            location: location === undefined ? undefined : new URL(location, url),
            setCookies: headers.filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value),
            startMs,
            ms: timing.responseStart >= 0 ? Math.round(timing.responseStart) : -1,
          });
        }),
      );
    });
  }

  /** Waits for the headers of every response seen so far, then returns the exchanges sorted by start. */
  async settled(): Promise<Exchange[]> {
    await Promise.all(this.#pending);
    return [...this.exchanges].sort((a, b) => a.startMs - b.startMs);
  }

  clear(): void {
    this.exchanges.length = 0;
    this.#pending.length = 0;
  }
}
