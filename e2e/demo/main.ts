/**
 * `./pnpmw demo`: starts the reference stack (see demo.ts), prints what to open and how to trust the local CA,
 * and stops everything on Ctrl-C (SIGINT), SIGTERM or SIGHUP, or when its parent (pnpm) is gone.
 *
 *   --port N  (GATEHOUSE_DEMO_PORT)  nginx's TLS port on 127.0.0.1; default the first free one of 8443-8462
 *   --dir D   (GATEHOUSE_DEMO_DIR)   state directory; default data/demo/ (git-ignored)
 *   GATEHOUSE_DEMO_LOG=info          log level of the issuer and forward-auth (default warn, to stderr)
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { spkiHash } from '@gatehouse/testkit/tls';
import { DEMO_USER, startDemo, type Demo } from './demo.ts';

const USAGE = `usage: ./pnpmw demo [--port N] [--dir DIR]
  --port N   nginx's TLS port on 127.0.0.1 (GATEHOUSE_DEMO_PORT); default the first free one of 8443-8462
  --dir DIR  state directory: CA, secrets, SQLite file (GATEHOUSE_DEMO_DIR); default data/demo/
  GATEHOUSE_DEMO_LOG=info shows the issuer's and forward-auth's logs (stderr)
`;

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEFAULT_PORTS = Array.from({ length: 20 }, (_, i) => 8443 + i);

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

type Choice = { ok: true; port: number } | { ok: false; message: string };

async function choosePort(asked: string | undefined): Promise<Choice> {
  if (asked !== undefined) {
    const port = Number(asked);
    if (!Number.isInteger(port) || port < 1024 || port > 65535)
      return { ok: false, message: `port "${asked}" is not a number from 1024 to 65535` };
    return (await portFree(port))
      ? { ok: true, port }
      : { ok: false, message: `port ${port} on 127.0.0.1 is in use; choose another with --port` };
  }
  for (const port of DEFAULT_PORTS) if (await portFree(port)) return { ok: true, port };
  return {
    ok: false,
    message: `ports ${DEFAULT_PORTS[0]}-${DEFAULT_PORTS.at(-1)} on 127.0.0.1 are all in use; choose one with --port`,
  };
}

function banner(demo: Demo, seconds: number): string {
  const ca = demo.state.caFile;
  const shown = relative(process.cwd(), ca).startsWith('..') ? ca : relative(process.cwd(), ca);
  const made = demo.state.made.ca
    ? `a new local CA was made: ${shown}`
    : `the local CA of earlier runs is reused: ${shown}`;
  return `
Gatehouse demo: nginx (TLS) -> forward-auth -> issuer (SQLite, password DB + mock connector) -> sample app
ready in ${seconds.toFixed(1)} s; ${made}

  Open         ${demo.origin}/
  Credentials  ${DEMO_USER.email} / ${DEMO_USER.password}   ("Log in with Email"; or "Log in with Example": the mock connector, no password)
  Sign out     ${demo.origin}/oauth2/sign_out

  Trust the local CA (made for this demo only; remove it from your trust store when done):
    curl       curl -i --cacert ${ca} ${demo.origin}/
    Chromium   to try at once, a throw-away profile that accepts this CA's key only:
               chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=${spkiHash(demo.state.tls.caCert)} ${demo.origin}/
               to trust it for good: Settings > Privacy and security > Security > Manage certificates, import it as an
               authority (Linux shell: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n gatehouse-demo -i ${ca}; libnss3-tools)
    Firefox    Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import ${ca}
               and tick "Trust this CA to identify websites"

  Behind nginx: issuer ${demo.addrs.issuer}, forward-auth ${demo.addrs.forwardAuth}, app ${demo.addrs.app}
  State in ${demo.state.dir} (delete it to start over with a new CA). Ctrl-C stops everything.
`;
}

async function main(): Promise<number> {
  let values: { port?: string; dir?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { port: { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const logger = pino({ level: process.env['GATEHOUSE_DEMO_LOG'] ?? 'warn' }, pino.destination(2));

  let stopRequested: (signal: string) => void = () => undefined;
  const stopSignal = new Promise<string>((res) => (stopRequested = res));
  let firstSignalAt: number | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      firstSignalAt ??= now;
      // Ctrl-C reaches the whole process group and pnpm may pass it on as well: one press can arrive twice.
      // A signal a second later, while stopping, means "now": leave (nginx's process group is killed on exit).
      if (now - firstSignalAt > 1_000) process.exit(1);
      stopRequested(signal);
    });
  }

  // If whoever started us dies without a signal (pnpm killed with SIGKILL, a closed CI job), we are re-parented:
  // stop then too, so nothing of the demo outlives its command.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parent) stopRequested('parent exited');
  }, 500);
  orphanCheck.unref();

  const port = await choosePort(values.port ?? process.env['GATEHOUSE_DEMO_PORT']);
  if (!port.ok) {
    process.stderr.write(`demo: ${port.message}\n`);
    return 1;
  }
  const dir = resolve(values.dir ?? process.env['GATEHOUSE_DEMO_DIR'] ?? `${REPO}data/demo`);
  let demo: Demo;
  try {
    demo = await startDemo({ dir, httpsPort: port.port, logger });
  } catch (err) {
    process.stderr.write(`demo: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(banner(demo, performance.now() / 1000));

  const signal = await stopSignal;
  clearInterval(orphanCheck);
  process.stdout.write(`\n${signal}: stopping the demo\n`);
  await demo.stop();
  process.stdout.write('demo stopped\n');
  return 0;
}

process.exitCode = await main();
