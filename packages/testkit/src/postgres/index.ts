/**
 * `@gatehouse/testkit/postgres`: a throwaway PostgreSQL cluster (Debian's `initdb` and `postgres` under
 * `/usr/lib/postgresql/<version>/bin`) in a fresh temporary directory on a free loopback port, with a password
 * superuser (scram-sha-256 over TCP). PostgreSQL refuses to run as root, so when the suites run as root the
 * cluster is created and run as the `postgres` system user (else `nobody`) through `setpriv`, which execs
 * (the child pid is the postmaster itself, so signals reach it). `pause()` / `start()` / `restart()` keep
 * the port and data (an outage, or a restart under traffic); `stop()` removes everything.
 *
 * With `tls`, the server gets a certificate from that test CA for `localhost` and `127.0.0.1` and
 * accepts TCP connections over TLS only (`hostssl`; `hostnossl ... reject`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { getFreePort } from '../ports.ts';
import { requireProgram } from '../programs.ts';
import { ServerProcess, type StopSignals } from '../server-process.ts';
import type { TestCA } from '../tls.ts';

export interface PostgresOptions {
  /** Serve TLS only, with a certificate from this CA (for localhost and 127.0.0.1). */
  tls?: TestCA;
  /** The names the server certificate carries (default localhost and 127.0.0.1). */
  tlsHostnames?: string[];
  /** Extra `postgres -c name=value` settings. Default: `fsync=off` (test data is throwaway). */
  settings?: Record<string, string>;
}

/** How to reach the server as its superuser (pg's connection options). */
export interface PostgresConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface Postgres extends PostgresConnection {
  /** Temporary directory of the cluster, its log and certificates (removed by `stop()`). */
  dir: string;
  /** The CA certificate (PEM) a client verifies the server with, when started with `tls`. */
  caCert?: string;
  /** The server's log so far. */
  log(): Promise<string>;
  /** Runs SQL as the superuser on `database` (default `postgres`); returns the rows. */
  query(sql: string, database?: string): Promise<Array<Record<string, unknown>>>;
  /** Creates an empty database with a fresh name and returns the name. */
  createDatabase(prefix?: string): Promise<string>;
  /** Fast shutdown (SIGINT: clients are disconnected), keeping the directory and port for `start()`. */
  pause(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** `pause()` then `start()`. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** The account to run PostgreSQL as when we are root: `postgres` when it exists, else `nobody`. */
function unprivilegedUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'));
  for (const name of ['postgres', 'nobody']) {
    const entry = passwd.find((fields) => fields[0] === name);
    if (entry) return { uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists: PostgreSQL will not run as root');
}

function command(program: string, args: string[], runAs: RunAs | undefined): { file: string; args: string[] } {
  if (!runAs) return { file: program, args };
  return {
    file: '/usr/bin/setpriv',
    args: [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', program, ...args],
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}:\n${out.slice(-4000)}`)),
    );
  });
}

/** initdb + postgres on 127.0.0.1:<free port>; resolves once the server answers `SELECT 1`. */
export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  // Before anything else: missing binaries fail here, with the command that installs them.
  const initdb = requireProgram('initdb');
  const postgres = requireProgram('postgres');
  const runAs = unprivilegedUser();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-postgres-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  const port = await getFreePort();
  const user = 'gatehouse';
  const password = randomBytes(18).toString('base64url');
  const own = (path: string, mode: number): void => {
    chmodSync(path, mode);
    if (runAs) chownSync(path, runAs.uid, runAs.gid);
  };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC' };
  let caCert: string | undefined;
  const server = new ServerProcess('postgres');
  const log = () => readFile(join(dir, 'postgres.log'), 'utf8').catch(() => '');

  const connection = (database = 'postgres'): pg.ClientConfig => ({
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    connectionTimeoutMillis: 5000,
    // The admin connection checks the chain only: a test may issue the certificate for other names.
    ...(caCert === undefined ? {} : { ssl: { ca: caCert, checkServerIdentity: () => undefined } }),
  });
  const query = async (sql: string, database?: string): Promise<Array<Record<string, unknown>>> => {
    const client = new pg.Client(connection(database));
    client.on('error', () => undefined); // a server going away mid-query is reported by the query itself
    await client.connect();
    try {
      return (await client.query(sql)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: sockets,
    max_connections: '200',
    fsync: 'off',
    ...(!options.tls
      ? {}
      : { ssl: 'on', ssl_cert_file: join(dir, 'server.crt'), ssl_key_file: join(dir, 'server.key') }),
    ...options.settings,
  };

  const start = async (): Promise<void> => {
    const logFile = join(dir, 'postgres.log');
    const { file, args } = command(
      postgres,
      ['-D', data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      runAs,
    );
    const fd = openSync(logFile, 'a', 0o644);
    try {
      server.spawn(file, args, { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    let dead = false;
    void server.exited.then(() => (dead = true));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (dead) throw new Error(`postgres exited during start-up:\n${(await log()).slice(-4000)}`);
      try {
        await query('SELECT 1');
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`postgres not ready after 30 s:\n${(await log()).slice(-4000)}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  // Fast shutdown (SIGINT): SIGTERM (smart) would wait for every client to leave. SIGQUIT after 10 s.
  const fastShutdown: StopSignals = { request: ['SIGINT'], force: 'SIGQUIT', graceMs: 10_000 };
  const pause = (): Promise<void> => server.stop(fastShutdown);

  try {
    own(dir, 0o700);
    await mkdir(sockets);
    own(sockets, 0o700);
    await writeFile(join(dir, 'pwfile'), `${password}\n`);
    own(join(dir, 'pwfile'), 0o600);
    const init = command(
      initdb,
      [
        '-D',
        data,
        '-U',
        user,
        `--pwfile=${join(dir, 'pwfile')}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--no-sync',
      ],
      runAs,
    );
    await run(init.file, init.args, env);
    if (options.tls) {
      const leaf = await options.tls.issue(options.tlsHostnames ?? ['localhost', '127.0.0.1']);
      await writeFile(join(dir, 'server.crt'), leaf.cert);
      await writeFile(join(dir, 'server.key'), leaf.key);
      own(join(dir, 'server.crt'), 0o644);
      own(join(dir, 'server.key'), 0o600);
      caCert = options.tls.caCert;
      // TLS only over TCP: a client that does not ask for it is turned away.
      await writeFile(
        join(data, 'pg_hba.conf'),
        [
          'local all all trust',
          'hostssl all all 127.0.0.1/32 scram-sha-256',
          'hostnossl all all 0.0.0.0/0 reject',
          '',
        ].join('\n'),
      );
    }
    await start();
  } catch (err) {
    await server.kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let counter = 0;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    database: 'postgres',
    dir,
    ...(caCert === undefined ? {} : { caCert }),
    log,
    query,
    async createDatabase(prefix = 'gatehouse'): Promise<string> {
      const name = `${prefix}_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_');
      await query(`CREATE DATABASE ${name}`);
      return name;
    },
    pause,
    start,
    async restart(): Promise<void> {
      await pause();
      await start();
    },
    async stop(): Promise<void> {
      await pause();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
