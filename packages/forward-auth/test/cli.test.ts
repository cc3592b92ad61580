// The gatehouse-forward-auth CLI as a process: exit 2 with every configuration error, --config-test, serving.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort, waitForPort } from '@gatehouse/testkit/ports';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fa-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('gatehouse-forward-auth', () => {
  it('exits 2 and names every bad option', async () => {
    const r = await run(['--cookie-expire=forever', '--provider=github', '--no-such-flag=1']);
    expect(r.code).toBe(2);
    for (const name of [
      'cookie_expire',
      'provider',
      'no_such_flag',
      'oidc_issuer_url',
      'client_id',
      'redirect_url',
      'cookie_secret',
      'email_domains',
    ]) {
      expect(r.stderr).toContain(name);
    }
  });

  it('validates a TOML file with environment overrides (--config-test)', async () => {
    const file = join(dir, 'fa.toml');
    writeFileSync(
      file,
      `provider = "oidc"\noidc_issuer_url = "http://127.0.0.1:9/dex"\nclient_id = "c"\nredirect_url = "https://a.example.com/oauth2/callback"\nemail_domains = ["*"]\nupstreams = ["http://127.0.0.1:8080"]\n`,
    );
    const r = await run(['--config', file, '--config-test'], {
      OAUTH2_PROXY_COOKIE_SECRET: randomBytes(32).toString('base64'),
      GATEHOUSE_FA_CLIENT_SECRET: 'x',
    });
    expect(r.stderr + r.stdout).toContain('configuration OK');
    expect(r.stdout).toMatch(/upstreams .*not implemented/);
    expect(r.code).toBe(0);
  });

  it('serves until SIGTERM', async () => {
    const port = await getFreePort();
    const p = spawn(
      process.execPath,
      [
        CLI,
        `--http-address=127.0.0.1:${port}`,
        '--oidc-issuer-url=http://127.0.0.1:9/dex',
        '--client-id=c',
        '--client-secret=s',
        '--redirect-url=https://a.example.com/oauth2/callback',
        '--email-domain=*',
        '--log-level=silent',
      ],
      {
        env: { PATH: process.env.PATH ?? '', GATEHOUSE_FA_COOKIE_SECRET: randomBytes(32).toString('base64url') },
        stdio: 'ignore',
      },
    );
    try {
      await waitForPort(port, '127.0.0.1', 15_000);
      expect((await fetch(`http://127.0.0.1:${port}/ping`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/oauth2/auth`)).status).toBe(401);
    } finally {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
