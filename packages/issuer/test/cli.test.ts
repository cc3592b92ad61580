import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { getFreePort, waitForPort } from '@gatehouse/testkit/ports';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with Node (type stripping), the way `gatehouse` runs from its bin entry. */
function cli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onStart?: (child: ReturnType<typeof spawn>) => void } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: dir,
      env: { PATH: process.env['PATH'], ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    options.onStart?.(child);
  });
}

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('gatehouse CLI', () => {
  it('prints its version and help', async () => {
    const v = await cli(['version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^gatehouse \d+\.\d+\.\d+ \(node 24\./);
    const h = await cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('serve [flags] CONFIG');
    expect(h.stdout).toContain('--web-http-addr');
  });

  it('exits 2 on usage errors', async () => {
    const [none, unknown, noFile, twoFiles, badFlag] = await Promise.all([
      cli([]),
      cli(['launch']),
      cli(['serve']),
      cli(['serve', 'a.yaml', 'b.yaml']),
      cli(['serve', '--bogus', 'a.yaml']),
    ]);
    expect(unknown?.stderr).toContain('unknown command "launch"');
    expect(badFlag?.stderr).toContain('unknown option --bogus');
    expect([none, unknown, noFile, twoFiles, badFlag].map((r) => r?.code)).toEqual([2, 2, 2, 2, 2]);
  });

  it('reports all five mistakes of a config with their key paths and exits 2', async () => {
    const file = writeConfig(
      'five-mistakes.yaml',
      `issuer: http://127.0.0.1:5556/dex
storage:
  type: sqlite3
  config:
    file: gatehouse.db
web:
  http: 127.0.0.1:5556
staticClients:
  - id: example-app
    redirectURIs: ['http://127.0.0.1:5555/callback']
    # mistake 1: no secret and not public
connectors:
  - type: microsoftt          # mistake 2: unknown type
    id: azure
    name: Microsoft
  - type: mockPassword
    id: Mock_Password         # mistake 3: not DNS-1123
    name: Password
    config:
      username: kilgore       # mistake 4: password missing
expiry:
  idTokens: one day           # mistake 5: not a duration
`,
    );
    const r = await cli(['serve', file]);
    expect(r.code).toBe(2);
    for (const p of [
      'staticClients[0].secret',
      'connectors[0].type',
      'connectors[1].id',
      'connectors[1].config.password',
      'expiry.idTokens',
    ]) {
      expect(r.stderr, p).toMatch(new RegExp(`^error: ${p.replace(/[[\].]/g, '\\$&')}: `, 'm'));
    }
    expect(r.stderr).toContain('5 config errors');
    expect(r.stderr).toContain('not started');
    const check = await cli(['check', file]);
    expect(check.code).toBe(2);
    expect(check.stderr.match(/^error: /gm)).toHaveLength(5);
    expect(r.stdout).toBe('');
  });

  it("check: validates a file, with Dex's listen-address flags only on serve", async () => {
    const file = writeConfig(
      'check.yaml',
      `issuer: http://127.0.0.1:5556/dex
storage: { type: memory }
web: { http: 127.0.0.1:5556 }
connectors: [{ type: mockCallback, id: mock, name: Example }]
`,
    );
    const ok = await cli(['check', file]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('valid (issuer http://127.0.0.1:5556/dex)');
    expect(ok.stderr).toMatch(/^warning: storage.type: memory storage/m);
    const flag = await cli(['check', '--web-http-addr', '127.0.0.1:1', file]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('unknown option --web-http-addr');
    const bad = await cli(['serve', '--web-http-addr=not-an-address', '--grpc-addr', '127.0.0.1:5557', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^warning: --grpc-addr is ignored/m);
    expect(bad.stderr).toMatch(/^error: web\.http: /m);
    const missing = await cli(['serve', file, '--telemetry-addr']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--telemetry-addr needs an address');
  });

  it('exits 2 when the config file cannot be read', async () => {
    const r = await cli(['serve', path.join(dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ENOENT');
  });

  it('serves, prints warnings, and shuts down cleanly on SIGTERM', async () => {
    const port = await getFreePort();
    const telemetry = await getFreePort();
    const file = writeConfig(
      'serve.yaml',
      `issuer: http://127.0.0.1:${port}/dex
storage:
  type: memory
web:
  http: 127.0.0.1:1
telemetry:
  http: 127.0.0.1:${telemetry}
grpc:
  addr: 127.0.0.1:5557
staticClients:
  - id: example-app
    secretEnv: EXAMPLE_SECRET
    redirectURIs: ['http://127.0.0.1:5555/callback']
connectors:
  - type: mockCallback
    id: mock
    name: Example
`,
    );
    let discovery: Record<string, unknown> | undefined;
    let ready = 0;
    // The listen address comes from the flag (as Dex's Helm chart passes it), not the file.
    const r = await cli(['serve', '--web-http-addr', `127.0.0.1:${port}`, file], {
      env: { EXAMPLE_SECRET: 'a-secret-of-sufficient-length' },
      onStart: (child) => {
        void (async () => {
          try {
            await waitForPort(port, '127.0.0.1', 20_000);
            discovery = (await (
              await fetch(`http://127.0.0.1:${port}/dex/.well-known/openid-configuration`)
            ).json()) as Record<string, unknown>;
            await waitForPort(telemetry, '127.0.0.1', 5_000);
            ready = (await fetch(`http://127.0.0.1:${telemetry}/readyz`)).status;
          } finally {
            child.kill('SIGTERM');
          }
        })();
      },
    });
    expect(r.stderr).toMatch(/^warning: grpc: /m);
    expect(discovery?.['issuer']).toBe(`http://127.0.0.1:${port}/dex`);
    expect(ready).toBe(200);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('shutting down');
    expect(r.stdout).not.toContain('a-secret-of-sufficient-length');
  });
});
