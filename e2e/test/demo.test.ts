/**
 * `./pnpmw demo` driven as the README tells a person to: run the command, open the URL it prints in Chromium
 * (trusting the CA file it prints, resolving `*.localhost` itself), sign in with the printed credentials and with
 * the mock connector, reload (Scenario 2: no redirect), sign out; then Ctrl-C, and nothing of it is left.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '@gatehouse/testkit/ports';
import { chromiumAvailable, launchBrowser, spkiHash, TrafficRecorder, type TestBrowser } from '../src/browser.ts';
import { appAnswer, formatTrace, step } from '../src/journey.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

interface Banner {
  url: string;
  user: string;
  password: string;
  signOut: string;
  caFile: string;
  curl: string[];
  /** The printed Chromium flag that accepts the CA's key. */
  chromiumTrust: string;
  internal: number[];
  reusedCA: boolean;
}

function parseBanner(out: string): Banner | undefined {
  const url = /^\s*Open\s+(https:\/\/\S+)$/m.exec(out)?.[1];
  const creds = /^\s*Credentials\s+(\S+) \/ (\S+)/m.exec(out);
  const signOut = /^\s*Sign out\s+(\S+)$/m.exec(out)?.[1];
  const curl = /^\s*curl\s+(curl .+)$/m.exec(out)?.[1];
  const caFile = / --cacert (\S+) /.exec(curl ?? '')?.[1];
  const chromiumTrust =
    /^\s*chromium --user-data-dir=\$\(mktemp -d\) (--ignore-certificate-errors-spki-list=\S+) (\S+)$/m.exec(out);
  const behind =
    /^\s*Behind nginx: issuer 127\.0\.0\.1:(\d+), forward-auth 127\.0\.0\.1:(\d+), app 127\.0\.0\.1:(\d+)$/m.exec(out);
  if (!url || !creds || !signOut || !curl || !caFile || !behind || chromiumTrust?.[2] !== url) return undefined;
  return {
    url,
    user: creds[1] as string,
    password: creds[2] as string,
    signOut,
    caFile,
    curl: curl.split(' '),
    chromiumTrust: chromiumTrust[1] as string,
    internal: behind.slice(1).map(Number),
    reusedCA: out.includes('the local CA of earlier runs is reused'),
  };
}

/** Every process whose parent chain leads to `root` (from /proc), `root` included. */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may contain spaces, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (stat !== '') parents.set(Number(name), ppid);
  }
  const tree = [root];
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (tree.includes(ppid) && !tree.includes(pid)) {
        tree.push(pid);
        grew = true;
      }
    }
  }
  return tree;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });

/**
 * A demo a failed test left running: stopped as Ctrl-C would (a SIGKILL of the group would leave nginx, which
 * runs in a process group of its own), then whatever is left is killed.
 */
async function stopLeftover(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid as number;
  const tree = await processTree(pid);
  process.kill(-pid, 'SIGINT');
  const deadline = Date.now() + 10_000;
  while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of tree.filter(alive)) process.kill(p, 'SIGKILL');
}

interface RunningDemo {
  child: ChildProcess;
  banner: Banner;
  output: () => string;
  /** Wall time from the command to the printed URL. */
  startMs: number;
}

/** Runs the README's command in its own process group, as a shell runs a foreground job. */
async function startDemoCommand(dir: string, port: number): Promise<RunningDemo> {
  const t0 = performance.now();
  const child = spawn('./pnpmw', ['demo'], {
    cwd: REPO,
    env: { ...process.env, GATEHOUSE_DEMO_DIR: dir, GATEHOUSE_DEMO_PORT: String(port) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const banner = parseBanner(out);
    if (banner) return { child, banner, output: () => out, startMs: Math.round(performance.now() - t0) };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopLeftover(child);
      throw new Error(`the demo did not print its URL:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `signal` (to the group: Ctrl-C; or to the command only), then checks nothing of the demo is left. */
async function stopAndCheckGone(
  demo: RunningDemo,
  signal: 'SIGINT' | 'SIGTERM',
  target: 'group' | 'command',
): Promise<number> {
  const pid = demo.child.pid as number;
  const tree = await processTree(pid);
  expect(tree.length).toBeGreaterThanOrEqual(3); // pnpm, node, the nginx master (and its worker)
  const t0 = performance.now();
  const exited = once(demo.child, 'exit');
  process.kill(target === 'group' ? -pid : pid, signal);
  const [code] = (await Promise.race([
    exited,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`no exit:\n${demo.output()}`)), 20_000)),
  ])) as [number | null];
  const stopMs = Math.round(performance.now() - t0);
  expect(demo.output()).toContain(`${signal}: stopping the demo`);
  expect(demo.output()).toContain('demo stopped');
  expect(code).toBe(0);
  expect(stopMs).toBeLessThan(3_000); // nothing (a timer, a socket) holds the process after the stop
  // Every process of the tree is gone once the command returned (no orphan finishing later).
  expect(tree.filter(alive)).toEqual([]);
  const ports = [Number(new URL(demo.banner.url).port), ...demo.banner.internal];
  expect(await Promise.all(ports.map(refused))).toEqual(ports.map(() => true));
  return stopMs;
}

describe.skipIf(!chromiumAvailable())('./pnpmw demo', () => {
  let dir: string;
  let port: number;
  let browser: TestBrowser | undefined;
  let demo: RunningDemo | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-demo-'));
    port = await getFreePort();
  });

  afterAll(async () => {
    await browser?.close();
    if (demo) await stopLeftover(demo.child);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves Scenarios 1 and 2 in Chromium as printed, and Ctrl-C leaves nothing running', async () => {
    demo = await startDemoCommand(dir, port);
    const { banner } = demo;
    expect(banner.url).toBe(`https://gatehouse.localhost:${port}/`);
    expect(banner.reusedCA).toBe(false);
    expect(banner.caFile).toBe(join(dir, 'ca.crt'));

    // The printed curl line works as printed: the chain verifies against the CA file, and / asks for a login.
    const curl = await run(banner.curl[0] as string, [
      ...banner.curl.slice(1),
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{redirect_url}',
    ]);
    expect(curl.stdout).toBe(`302 https://gatehouse.localhost:${port}/oauth2/start?rd=/`);

    // Chromium with the printed flag, which accepts the printed CA's key only (and no host mapping: it resolves
    // *.localhost to loopback itself).
    expect(banner.chromiumTrust).toBe(
      `--ignore-certificate-errors-spki-list=${spkiHash(await readFile(banner.caFile, 'utf8'))}`,
    );
    browser = await launchBrowser({ hosts: [], trustedCerts: [], extraArgs: [banner.chromiumTrust] });
    const context = await browser.newContext();
    const page = await context.newPage();
    const recorder = new TrafficRecorder(page);
    const origin = new URL(banner.url).origin;

    // Scenario 1 with the password DB.
    await page.goto(banner.url);
    await page.getByRole('link', { name: 'Log in with Email' }).click();
    await page.locator('input[name="login"]').fill(banner.user);
    await page.locator('input[name="password"]').fill(banner.password);
    await page.locator('button[type="submit"]').click();
    await page.waitForURL(banner.url, { timeout: 20_000 });
    const first = await recorder.settled();
    step(
      first,
      0,
      'GET / -> /oauth2/start',
      (e) => e.url.href === banner.url && e.status === 302 && e.location?.pathname === '/oauth2/start',
    );
    const callback = step(first, 0, 'GET /oauth2/callback -> /', (e) => e.url.pathname === '/oauth2/callback');
    expect(callback.exchange.location?.href, formatTrace(first)).toBe(banner.url);
    const answer = await appAnswer(page);
    expect(answer).toMatchObject({
      user: banner.user,
      path: '/',
      viaProxy: true,
      identity: { email: banner.user, user: 'admin' },
    });

    // Scenario 2: the reload is one request straight to the app, no redirect.
    recorder.clear();
    await page.reload();
    await page.locator('#identity').waitFor();
    const reload = (await recorder.settled()).filter(
      (e) => e.url.origin === origin && !e.url.pathname.startsWith('/favicon'),
    );
    expect(reload.map((e) => `${e.method} ${e.url.pathname} ${e.status}`)).toEqual(['GET / 200']);
    expect((await appAnswer(page)).identity?.email).toBe(banner.user);

    // Sign out (the issuer asks to confirm); the next visit needs a login again, this time with the mock connector.
    await page.goto(banner.signOut);
    await page.getByRole('button', { name: 'Yes, log out' }).click();
    await page.getByRole('link', { name: 'Log in with Example' }).waitFor({ timeout: 15_000 });
    expect((await context.cookies(origin)).find((c) => c.name === '_oauth2_proxy')).toBeUndefined();
    await page.getByRole('link', { name: 'Log in with Example' }).click();
    await page.waitForURL(banner.url, { timeout: 20_000 });
    expect((await appAnswer(page)).identity).toMatchObject({ email: 'kilgore@kilgore.trout', groups: ['authors'] });
    await browser.close();
    browser = undefined;

    const stopMs = await stopAndCheckGone(demo, 'SIGINT', 'group');
    console.log(`demo cold start ${demo.startMs} ms (command to printed URL), stop ${stopMs} ms`);
  }, 240_000);

  it('a second run reuses the state (same CA file) and SIGTERM to the command alone stops it all', async () => {
    const caBefore = await readFile(join(dir, 'ca.crt'), 'utf8');
    demo = await startDemoCommand(dir, port);
    expect(demo.banner.reusedCA).toBe(true);
    expect(await readFile(demo.banner.caFile, 'utf8')).toBe(caBefore);
    const curl = await run(demo.banner.curl[0] as string, [
      ...demo.banner.curl.slice(1),
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
    ]);
    expect(curl.stdout).toBe('302');
    // A process manager (systemd, a CI job) signals only the process it started.
    const stopMs = await stopAndCheckGone(demo, 'SIGTERM', 'command');
    console.log(`demo warm start ${demo.startMs} ms (command to printed URL), stop ${stopMs} ms`);
  }, 240_000);

  it('the command killed outright (SIGKILL, no chance to clean up): the demo notices and stops nginx and itself', async () => {
    demo = await startDemoCommand(dir, port);
    const pid = demo.child.pid as number;
    const tree = await processTree(pid);
    const exited = once(demo.child, 'exit');
    process.kill(pid, 'SIGKILL');
    await exited;
    const deadline = Date.now() + 10_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tree.filter(alive)).toEqual([]);
    expect(demo.output()).toContain('parent exited: stopping the demo');
    const ports = [port, ...demo.banner.internal];
    expect(await Promise.all(ports.map(refused))).toEqual(ports.map(() => true));
  }, 240_000);

  it('refuses a port in use with a message naming it', async () => {
    const taken = await startDemoCommand(dir, port);
    try {
      const t0 = performance.now();
      const second = spawn('./pnpmw', ['demo', '--port', String(port)], {
        cwd: REPO,
        env: { ...process.env, GATEHOUSE_DEMO_DIR: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      second.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const [code] = (await once(second, 'exit')) as [number];
      expect(code).not.toBe(0);
      expect(err).toContain(`demo: port ${port} on 127.0.0.1 is in use; choose another with --port`);
      expect(performance.now() - t0).toBeLessThan(15_000);
    } finally {
      await stopAndCheckGone(taken, 'SIGINT', 'group');
    }
  }, 240_000);
});
