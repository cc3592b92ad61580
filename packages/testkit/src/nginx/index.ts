/**
 * `@gatehouse/testkit/nginx`: runs the Debian nginx (`/usr/sbin/nginx`) as a child process on a loopback
 * port, from a configuration template whose `{{NAME}}` placeholders are filled from `vars`.
 *
 * Everything nginx writes (pid, logs, temp files, the filled configuration, the `files` given) lives in a
 * fresh temporary directory, the prefix, removed by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { getFreePort } from '../ports.ts';
import { requireProgram } from '../programs.ts';
import { fillTemplate } from './template.ts';

export { fillTemplate, placeholdersOf, TemplateError } from './template.ts';

const MAX_STDERR = 64 * 1024;

export interface NginxOptions {
  /** The configuration template: its text, or the path of a file holding it. */
  confTemplate: string;
  /**
   * Values for the `{{NAME}}` placeholders. `PREFIX` (the temporary directory) and `HTTPS_PORT`
   * (a free loopback port) are provided unless given here.
   */
  vars: Record<string, string | number>;
  /** Files written under the prefix before start, by relative path (certificates, keys, includes). */
  files?: Record<string, string>;
  /** How long to wait for nginx to accept connections. Default 20 s. */
  startTimeoutMs?: number;
}

export interface Nginx {
  /** The port filled into `{{HTTPS_PORT}}`. */
  httpsPort: number;
  /** The temporary directory (`{{PREFIX}}`). */
  prefix: string;
  /** Path of the filled configuration file. */
  confPath: string;
  /** The master's pid (also its process group: the workers belong to it). */
  pid: number;
  /** A log file under `{{PREFIX}}/logs/` (e.g. `error.log`, `access.log`), '' if it does not exist yet. */
  readLog(name: string): Promise<string>;
  /** Stops nginx (fast shutdown, then SIGKILL of its process group if needed) and removes the prefix. */
  stop(): Promise<void>;
}

async function templateText(confTemplate: string): Promise<string> {
  // A template always contains a newline; a path never does.
  if (confTemplate.includes('\n')) return confTemplate;
  return readFile(resolve(confTemplate), 'utf8');
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res(child.exitCode);
    else child.once('exit', (code) => res(code));
  });
}

/** True once nginx wrote its pid; false if it exited first; throws after `timeoutMs`. */
async function waitForPidFile(path: string, proc: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.trim() === String(proc.pid)) return true;
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    if (Date.now() > deadline) throw new Error(`nginx did not start within ${timeoutMs} ms (no pid file)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts nginx with the filled template; rejects with nginx's own message if it cannot start. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  // Before anything else: a missing nginx fails here, with the command that installs it.
  const nginx = requireProgram('nginx');
  const template = await templateText(options.confTemplate);
  const prefix = await mkdtemp(join(tmpdir(), 'gatehouse-nginx-'));
  let child: ChildProcess | undefined;
  const killOnExit = (): void => {
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  try {
    // Workers run as an unprivileged user when the master is root: they must be able to enter the prefix.
    await chmod(prefix, 0o755);
    await mkdir(join(prefix, 'logs'));
    await mkdir(join(prefix, 'tmp'));
    for (const [rel, content] of Object.entries(options.files ?? {})) {
      const path = join(prefix, rel);
      if (!path.startsWith(prefix + '/')) throw new Error(`file path escapes the prefix: ${rel}`);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content, { mode: 0o600 });
    }

    const httpsPort = Number(options.vars['HTTPS_PORT'] ?? (await getFreePort()));
    const vars: Record<string, string> = { PREFIX: prefix, HTTPS_PORT: String(httpsPort) };
    for (const [k, v] of Object.entries(options.vars)) vars[k] = String(v);
    const confPath = join(prefix, 'nginx.conf');
    await writeFile(confPath, fillTemplate(template, vars));

    // nginx writes its pid file only once the configuration is loaded and every socket is bound: that, not an
    // open port (which could belong to someone else), says it started.
    const pidDirective = /^\s*pid\s+([^;]+);/m.exec(template)?.[1]?.trim();
    if (pidDirective !== undefined && pidDirective !== '{{PREFIX}}/nginx.pid') {
      throw new Error(
        `the template's pid directive must be "pid {{PREFIX}}/nginx.pid;" (or absent), not "${pidDirective}"`,
      );
    }
    const pidFile = join(prefix, 'nginx.pid');
    const globals = pidDirective === undefined ? `daemon off; pid ${pidFile};` : 'daemon off;';
    // detached: nginx gets its own process group, so a last-resort kill reaches the workers too.
    const proc = spawn(nginx, ['-p', prefix, '-c', confPath, '-e', join(prefix, 'logs', 'error.log'), '-g', globals], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    // A failed spawn emits 'error' and never 'exit': report it rather than wait for a pid file.
    if (proc.pid === undefined) throw await new Promise<Error>((res) => proc.once('error', res));
    child = proc;
    process.once('exit', killOnExit);
    let stderr = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      if (stderr.length < MAX_STDERR) stderr += d;
    });
    const exited = exitOf(proc);

    const started = await waitForPidFile(pidFile, proc, options.startTimeoutMs ?? 20_000);
    if (!started) await exited;
    if (!started) {
      const log = await readFile(join(prefix, 'logs', 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited during start-up (code ${proc.exitCode}): ${(stderr + log).trim().slice(0, 4000)}`);
    }

    let stopped = false;
    return {
      httpsPort,
      prefix,
      confPath,
      pid: proc.pid ?? -1,
      async readLog(name: string): Promise<string> {
        const path = join(prefix, 'logs', name);
        if (!path.startsWith(join(prefix, 'logs') + '/') || !existsSync(path)) return '';
        return readFile(path, 'utf8');
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM');
          let timer: NodeJS.Timeout | undefined;
          const done = await Promise.race([
            exited.then(() => true),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5_000))),
          ]);
          // A pending timer would keep the caller's process alive for 5 s after nginx left.
          clearTimeout(timer);
          if (!done) {
            killOnExit();
            await exited;
          }
        }
        // Workers leave with the master on SIGTERM; make sure nothing of the group outlives it.
        if (proc.pid !== undefined) {
          try {
            process.kill(-proc.pid, 'SIGKILL');
          } catch {
            // the group is empty: expected
          }
        }
        process.off('exit', killOnExit);
        await rm(prefix, { recursive: true, force: true });
      },
    };
  } catch (err) {
    killOnExit();
    if (child) await exitOf(child);
    process.off('exit', killOnExit);
    await rm(prefix, { recursive: true, force: true });
    throw err;
  }
}
