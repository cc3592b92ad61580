/**
 * Two `gatehouse serve` processes on one PostgreSQL database, from a Dex-style YAML (`type: postgres`,
 * the password from `$VAR`), behind a small front that sends each request to the replica chosen
 * (round-robin, or pinned): one code raced at both replicas 100 times is redeemed exactly once each
 * time; a client written to the database at run time works on both without a restart; the database
 * restarted under traffic gives 503 `temporarily_unavailable` (never a 500, never a crash) and the
 * same processes recover; a replica killed in the middle of a login leaves the other to finish it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browse,
  CookieJar,
  loginForCode,
  startIssuerProcess,
  tokenRequest,
  type CodeClient,
  type IssuerProcess,
} from '@gatehouse/issuer/testing';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startPostgres, type Postgres } from '@gatehouse/testkit/postgres';
import { openPostgresStore, type PostgresStore, type PostgresStoreConfig } from '../src/index.ts';
import { freshConfig } from './pg-env.ts';

const TRIALS = Number(process.env.GATEHOUSE_PG_REPLAY_TRIALS ?? 100);
const CLIENT: CodeClient = {
  id: 'pg-app',
  secret: 'pg-app-secret-that-is-long-enough',
  redirect: 'http://127.0.0.1:9/pg/cb',
};

function configYAML(issuerURL: string, port: number, db: PostgresStoreConfig): string {
  return `issuer: ${issuerURL}
storage:
  type: postgres
  config:
    host: ${db.host}
    port: ${db.port}
    database: ${db.database}
    user: ${db.user}
    password: $GATEHOUSE_TEST_PG_PASSWORD
    ssl:
      mode: disable
    connectionTimeout: 2
web:
  http: 127.0.0.1:${port}
oauth2:
  skipApprovalScreen: true
  grantTypes: [authorization_code, refresh_token]
staticClients:
  - id: ${CLIENT.id}
    secret: ${CLIENT.secret}
    name: PG
    redirectURIs: ['${CLIENT.redirect}']
connectors:
  - type: mockCallback
    id: mock
    name: Mock
logger:
  level: warn
`;
}

/** Forwards each request to `pick()`'s replica; a dead replica is a 502, as from a real proxy. */
function front(ports: number[], pick: () => number): Server {
  return createServer((req, res) => {
    const upstream = request(
      { host: '127.0.0.1', port: ports[pick()], method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
}

interface Answer {
  status: number;
  error?: string;
}

describe('two issuer processes on one PostgreSQL database', () => {
  let server: Postgres;
  let db: PostgresStoreConfig;
  let dir: string;
  let store: PostgresStore;
  const replicas: IssuerProcess[] = [];
  let lb: Server;
  let issuerURL: string;
  let pinned: number | undefined;
  let next = 0;

  beforeAll(async () => {
    server = await startPostgres();
    db = await freshConfig(server);
    store = await openPostgresStore(db);
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-issuer-'));
    const [lbPort, p0, p1] = [await getFreePort(), await getFreePort(), await getFreePort()];
    issuerURL = `http://127.0.0.1:${lbPort}/dex`;
    const file = join(dir, 'config.yaml');
    writeFileSync(file, configYAML(issuerURL, p0, db));
    const env = { GATEHOUSE_TEST_PG_PASSWORD: db.password, GATEHOUSE_STORAGE_KEY: randomBytes(32).toString('base64') };
    // Started together: both migrate (the advisory lock orders them) and race to create the signing keys.
    replicas.push(
      ...(await Promise.all([
        startIssuerProcess(file, p0, { cwd: dir, env }),
        startIssuerProcess(file, p1, { cwd: dir, env, args: [`--web-http-addr=127.0.0.1:${p1}`] }),
      ])),
    );
    lb = front([p0, p1], () => pinned ?? next++ % 2);
    await new Promise<void>((resolve) => lb.listen(lbPort, '127.0.0.1', resolve));
  }, 120_000);

  afterAll(async () => {
    lb?.closeAllConnections();
    await new Promise((r) => lb?.close(r));
    for (const r of replicas) await r.stop();
    await store?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const redeem = async (i: number, c: { code: string; verifier: string }, client = CLIENT): Promise<Answer> => {
    const res = await tokenRequest(`${replicas[i]!.url}/dex/token`, client, {
      grant_type: 'authorization_code',
      code: c.code,
      redirect_uri: client.redirect,
      code_verifier: c.verifier,
    });
    return { status: res.status, ...((await res.json()) as { error?: string }) };
  };

  it(`one code raced at both replicas (2 requests each, ${TRIALS} trials): exactly one 200 every time, the others invalid_grant`, async () => {
    const outcomes: string[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const c = await loginForCode(issuerURL, CLIENT, 'openid email');
      const answers = await Promise.all([redeem(0, c), redeem(1, c), redeem(0, c), redeem(1, c)]);
      const ok = answers.filter((a) => a.status === 200).length;
      const others = answers.filter((a) => a.status !== 200);
      outcomes.push(
        ok === 1 && others.every((a) => a.status === 400 && a.error === 'invalid_grant')
          ? 'one'
          : JSON.stringify(answers),
      );
    }
    expect(outcomes.filter((o) => o !== 'one')).toEqual([]);
    expect(replicas.every((r) => r.alive())).toBe(true);
  }, 600_000);

  it('50 logins at once through both replicas (every request to the next one), each code redeemed at either: all 200', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const c = await loginForCode(issuerURL, CLIENT, 'openid email');
        return (await redeem(i % 2, c)).status;
      }),
    );
    expect(results.filter((s) => s !== 200)).toEqual([]);
  }, 120_000);

  it('with GATEHOUSE_STORAGE_KEY the private signing keys reach the database sealed (no warning logged)', async () => {
    const [row] = await server.query('SELECT keys FROM gatehouse_signing_keys', db.database);
    const keys = String(row?.keys);
    expect(keys).toContain('$sealed');
    expect(keys).not.toMatch(/"d":"[A-Za-z0-9_-]{20,}"/);
    for (const r of replicas) expect(r.output()).not.toContain('GATEHOUSE_STORAGE_KEY is not set');
  });

  it('a client written to the database at run time logs in on either replica at once, and stops when deleted', async () => {
    const client: CodeClient = {
      id: `runtime-${Date.now()}`,
      secret: 'runtime-secret-that-is-long-enough',
      redirect: 'http://127.0.0.1:9/runtime/cb',
    };
    await store.clients.upsert({
      id: client.id,
      secret: client.secret!,
      redirectURIs: [client.redirect],
      name: 'Run time',
    });
    await expect
      .poll(
        async () => {
          pinned = 1;
          try {
            const c = await loginForCode(issuerURL, client);
            return (await redeem(0, c, client)).status;
          } catch {
            return 0;
          } finally {
            pinned = undefined;
          }
        },
        { timeout: 10_000 },
      )
      .toBe(200);
    await store.clients.delete(client.id);
    await expect
      .poll(
        async () => {
          pinned = 0;
          const page = await browse(
            new CookieJar(),
            `${issuerURL}/auth?client_id=${client.id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(client.redirect)}`,
          ).finally(() => (pinned = undefined));
          return page.status;
        },
        { timeout: 10_000 },
      )
      .toBe(400);
  }, 60_000);

  it('a connector written to the database at run time appears on both replicas, and goes when deleted', async () => {
    const choicePage = async (i: number): Promise<string> => {
      pinned = i;
      try {
        const q = new URLSearchParams({
          client_id: CLIENT.id,
          response_type: 'code',
          scope: 'openid',
          redirect_uri: CLIENT.redirect,
          state: 's',
        });
        return (await browse(new CookieJar(), `${issuerURL}/auth?${q}`, { stopAt: CLIENT.redirect })).body;
      } finally {
        pinned = undefined;
      }
    };
    await store.connectors.upsert({ id: 'pg-runtime', type: 'mockCallback', name: 'Added at run time', config: {} });
    for (const i of [0, 1])
      await expect
        .poll(async () => (await choicePage(i)).includes('/connector/pg-runtime'), { timeout: 10_000 })
        .toBe(true);
    await store.connectors.delete('pg-runtime');
    for (const i of [0, 1])
      await expect
        .poll(async () => (await choicePage(i)).includes('/connector/pg-runtime'), { timeout: 10_000 })
        .toBe(false);
  }, 60_000);

  it('the database restarted under traffic: 503 temporarily_unavailable meanwhile (never a 500, no crash), then the same processes work again', async () => {
    const statuses: Record<string, number> = {};
    const note = (k: string) => (statuses[k] = (statuses[k] ?? 0) + 1);
    let stop = false;
    let done = 0;
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        let c: { code: string; verifier: string };
        try {
          c = await loginForCode(issuerURL, CLIENT, 'openid');
        } catch (err) {
          // "login stuck at <url> (<status>): ..." : the page a browser would have shown.
          note(`login ${/\((\d{3})\)/.exec((err as Error).message)?.[1] ?? (err as Error).message.slice(0, 80)}`);
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const a = await redeem(w % 2, c);
        note(`token ${a.status} ${a.error ?? ''}`.trim());
        if (a.status === 200) done++;
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    await expect.poll(() => done, { timeout: 20_000 }).toBeGreaterThan(10);
    await server.pause();
    await new Promise((r) => setTimeout(r, 1500)); // a real outage: requests arrive while it is down
    await server.start();
    const before = done;
    await expect.poll(() => done, { timeout: 30_000 }).toBeGreaterThan(before + 10);
    stop = true;
    await Promise.all(workers);
    const failures = Object.keys(statuses).filter((k) => k !== 'token 200');
    // Something did fail while the database was down, and only as "try again later".
    expect(failures.length).toBeGreaterThan(0);
    for (const k of failures) expect(k).toMatch(/^(login 503|token 503 temporarily_unavailable)$/);
    expect(replicas.every((r) => r.alive())).toBe(true);
    for (const r of replicas) expect(r.output()).not.toMatch(/"level":(50|60)/); // no error/fatal log lines
    // Readiness follows the database.
    expect((await fetch(`${replicas[0]!.url}/dex/readyz`)).status).toBe(200);
  }, 120_000);

  it('a replica killed in the middle of a login: the other finishes it and the code is redeemed there', async () => {
    pinned = 0;
    const jar = new CookieJar();
    const verifier = 'pg-verifier-0123456789-0123456789-0123456789';
    const challenge = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))).toString(
      'base64url',
    );
    const auth = `${issuerURL}/auth?${new URLSearchParams({ client_id: CLIENT.id, response_type: 'code', scope: 'openid email', redirect_uri: CLIENT.redirect, state: 'st', code_challenge: challenge, code_challenge_method: 'S256' })}`;
    // Up to the connector's redirect back to our callback: the login is under way on replica 0.
    const half = await browse(jar, auth, { stopAt: `${issuerURL}/callback` });
    expect(half.location, half.body.slice(0, 300)).toBeDefined();
    expect(half.visited.length).toBeGreaterThan(1);
    await replicas[0]!.stop('SIGKILL');
    pinned = 1;
    const rest = await browse(jar, half.location!, { stopAt: CLIENT.redirect });
    const code = rest.location ? new URL(rest.location).searchParams.get('code') : null;
    expect(code, rest.body.slice(0, 300)).toBeTruthy();
    expect((await redeem(1, { code: code!, verifier })).status).toBe(200);
  }, 60_000);
});
