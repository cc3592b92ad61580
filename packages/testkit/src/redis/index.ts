/**
 * `@gatehouse/testkit/redis`: a throwaway `redis-server` (`/usr/bin/redis-server`) on a free loopback port, its
 * configuration, append-only file and log in a fresh temporary directory removed by `stop()`. `pause()` / `start()`
 * stop and restart it on the same port with the same data (an outage, or a restart that keeps what was written);
 * `freeze()` / `thaw()` make it hang with its socket open.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort, waitForPort } from '../ports.ts';
import { requireProgram } from '../programs.ts';
import { ServerProcess } from '../server-process.ts';

export interface RedisOptions {
  /** `requirepass`: clients must AUTH (the URL then carries `:password@`). */
  password?: string;
}

export interface Redis {
  /** `redis://[:password@]127.0.0.1:port`. */
  url: string;
  port: number;
  /** Temporary directory of the configuration, data and log (removed by `stop()`). */
  dir: string;
  /** redis-server's log so far. */
  log(): Promise<string>;
  /** SIGSTOP: the port stays open, nothing is answered. */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** Stops redis-server (SIGTERM: it writes its data), keeping the directory and port for `start()`. */
  pause(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops redis-server and removes its directory. */
  stop(): Promise<void>;
}

/** Starts redis-server on 127.0.0.1 with append-only persistence, so a restart keeps every acknowledged write. */
export async function startRedis(options: RedisOptions = {}): Promise<Redis> {
  // Before anything else: a missing redis-server fails here, with the command that installs it.
  const redisServer = requireProgram('redis-server');
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'));
  const port = await getFreePort();
  const conf = join(dir, 'redis.conf');
  await writeFile(
    conf,
    [
      'bind 127.0.0.1',
      `port ${port}`,
      `dir ${dir}`,
      'daemonize no',
      'save ""',
      'appendonly yes',
      'appendfsync always',
      `logfile ${join(dir, 'redis.log')}`,
      ...(options.password === undefined ? [] : [`requirepass ${options.password}`]),
      '',
    ].join('\n'),
  );
  const server = new ServerProcess('redis-server');
  const log = () => readFile(join(dir, 'redis.log'), 'utf8').catch(() => '');

  const start = async (): Promise<void> => {
    server.spawn(redisServer, [conf], { stdio: 'ignore' });
    const died = server.exited.then(async () => {
      throw new Error(`redis-server exited during start-up:\n${(await log()).slice(-4000)}`);
    });
    await Promise.race([waitForPort(port, '127.0.0.1', 20_000), died]);
    died.catch(() => undefined);
  };

  // SIGTERM (after SIGCONT, for a frozen server): redis-server writes its data; SIGKILL after 10 s.
  const pause = (): Promise<void> => server.stop();

  try {
    await start();
  } catch (err) {
    await server.kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    dir,
    log,
    freeze: () => server.signal('SIGSTOP'),
    thaw: () => server.signal('SIGCONT'),
    pause,
    start,
    async stop(): Promise<void> {
      await pause();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
