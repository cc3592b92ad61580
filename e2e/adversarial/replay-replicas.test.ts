// Issue 11: code and refresh-token replay across two replicas. Two `gatehouse serve` processes share one store, a
// SQLite file, a PostgreSQL database and then a real kube-apiserver (CRDs): one authorization code raced at both is redeemed exactly once,
// and a replay of a redeemed code at the other replica revokes what it issued; a rotated refresh token presented at
// the other replica inside the reuse window (README: "reuse window") yields the same successor, never a second
// family, also when raced; outside the window it is a replay and the whole family is revoked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loginForCode,
  startIssuerProcess,
  tokenRequest,
  type CodeClient,
  type IssuerProcess,
} from '@gatehouse/issuer/testing';
import { findGo, startKubeApiServer, type KubeCluster } from '@gatehouse/testkit/kube';
import { getFreePort } from '@gatehouse/testkit/ports';
import { startPostgres } from '@gatehouse/testkit/postgres';
import { defineClass } from './tally.ts';

const codes = defineClass('replay/code-across-replicas');
const refreshes = defineClass('replay/refresh-across-replicas');

const TRIALS = Number(process.env.GATEHOUSE_REPLAY_TRIALS ?? 50);
const REUSE_SECONDS = 1;
const CLIENT: CodeClient = {
  id: 'replay-app',
  secret: 'replay-app-secret-that-is-long-enough',
  redirect: 'http://127.0.0.1:9/replay/cb',
};
const CRD_DIR = fileURLToPath(new URL('../../deploy/crds/', import.meta.url));

interface TokenAnswer {
  status: number;
  error?: string;
  refresh_token?: string;
  access_token?: string;
}

async function answer(res: Response): Promise<TokenAnswer> {
  const body = (await res.json()) as Omit<TokenAnswer, 'status'>;
  return { status: res.status, ...body };
}

function configYAML(issuerPort: number, storage: string): string {
  return `issuer: http://127.0.0.1:${issuerPort}/dex
storage:
${storage}
web:
  http: 127.0.0.1:${issuerPort}
expiry:
  refreshTokens:
    reuseInterval: ${REUSE_SECONDS}s
oauth2:
  skipApprovalScreen: true
  grantTypes: [authorization_code, refresh_token]
staticClients:
  - id: ${CLIENT.id}
    secret: ${CLIENT.secret}
    name: Replay
    redirectURIs: ['${CLIENT.redirect}']
connectors:
  - type: mockCallback
    id: mock
    name: Mock
logger:
  level: warn
`;
}

/** Two replicas of one issuer (one issuer URL, the first's port) over `storage`, in processes of their own. */
function twoReplicas(name: string, storage: () => Promise<{ yaml: string; cleanup?: () => Promise<void> }>): void {
  describe(`two issuer processes sharing ${name}`, () => {
    let dir: string;
    const replicas: IssuerProcess[] = [];
    let issuerURL: string;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-replay-'));
      const chosen = await storage();
      cleanup = chosen.cleanup;
      const ports = [await getFreePort(), await getFreePort()];
      const file = join(dir, 'config.yaml');
      writeFileSync(file, configYAML(ports[0]!, chosen.yaml));
      issuerURL = `http://127.0.0.1:${ports[0]}/dex`;
      // The first creates the store's keys; the second then finds them.
      replicas.push(await startIssuerProcess(file, ports[0]!, { cwd: dir }));
      replicas.push(
        await startIssuerProcess(file, ports[1]!, { cwd: dir, args: [`--web-http-addr=127.0.0.1:${ports[1]}`] }),
      );
    });

    afterAll(async () => {
      for (const r of replicas) await r.stop();
      await cleanup?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const token = (i: number, form: Record<string, string>) =>
      tokenRequest(`${replicas[i]!.url}/dex/token`, CLIENT, form).then(answer);
    const redeem = (i: number, c: { code: string; verifier: string }) =>
      token(i, {
        grant_type: 'authorization_code',
        code: c.code,
        redirect_uri: CLIENT.redirect,
        code_verifier: c.verifier,
      });
    const refresh = (i: number, rt: string) => token(i, { grant_type: 'refresh_token', refresh_token: rt });
    const active = async (i: number, t: string): Promise<boolean> => {
      const res = await fetch(`${replicas[i]!.url}/dex/token/introspect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: t }),
      });
      return ((await res.json()) as { active: boolean }).active;
    };
    const outcome = (answers: TokenAnswer[]): string => {
      const ok = answers.filter((a) => a.status === 200).length;
      const other = answers.filter((a) => a.status !== 200 && !(a.status === 400 && a.error === 'invalid_grant'));
      return other.length > 0
        ? `UNEXPECTED-${other.map((a) => a.status).join(',')}`
        : ok === 1
          ? 'one-success'
          : `SUCCESSES-${ok}`;
    };

    it(`one code raced at both replicas (2 requests each, ${TRIALS} trials): exactly one success; a later replay at the other revokes its tokens`, async () => {
      for (let t = 0; t < TRIALS; t++) {
        const c = await loginForCode(issuerURL, CLIENT, 'openid email offline_access');
        const answers = await Promise.all([redeem(0, c), redeem(1, c), redeem(0, c), redeem(1, c)]);
        codes.check(
          `${name}: race ${t}`,
          'one-success',
          outcome(answers),
          JSON.stringify(answers.map((a) => a.status)),
        );
        const winner = answers.find((a) => a.status === 200);
        if (t % 5 !== 0 || !winner?.access_token) continue;
        // The code presented again, at either replica, after the race: refused, and the grant it opened is gone.
        const replay = await redeem(t % 2, c);
        const revoked =
          replay.status === 400 &&
          !(await active(1 - (t % 2), winner.access_token)) &&
          (await refresh(1 - (t % 2), winner.refresh_token!)).status === 400;
        codes.check(
          `${name}: replay ${t} after the race`,
          'replay-revokes',
          revoked ? 'replay-revokes' : `NOT-REVOKED-${replay.status}`,
        );
      }
    }, 300_000);

    it('a rotated refresh token at the other replica: inside the reuse window the same successor (also raced), outside it the family is revoked', async () => {
      const c = await loginForCode(issuerURL, CLIENT, 'openid email offline_access');
      const first = await redeem(0, c);
      expect(first.status).toBe(200);
      const rt0 = first.refresh_token!;
      const rotated = await refresh(0, rt0);
      const rt1 = rotated.refresh_token;
      refreshes.check(
        `${name}: rotation at replica 0`,
        'rotated',
        rotated.status === 200 && rt1 && rt1 !== rt0 ? 'rotated' : `NOT-ROTATED-${rotated.status}`,
      );

      // A client retrying after a lost response, at the other replica, inside the window.
      const retried = await refresh(1, rt0);
      refreshes.check(
        `${name}: rt0 again at replica 1 inside the window`,
        'same-successor',
        retried.status === 200 && retried.refresh_token === rt1 ? 'same-successor' : `FORKED-${retried.status}`,
      );

      // rt1 raced at both replicas: every success names one successor.
      const raced = await Promise.all([refresh(0, rt1!), refresh(1, rt1!), refresh(0, rt1!), refresh(1, rt1!)]);
      const successors = new Set(raced.filter((a) => a.status === 200).map((a) => a.refresh_token));
      const bad = raced.filter((a) => a.status !== 200 && a.error !== 'invalid_grant');
      refreshes.check(
        `${name}: rt1 raced at both replicas`,
        'one-successor',
        bad.length > 0
          ? `UNEXPECTED-${bad.map((a) => a.status).join(',')}`
          : successors.size === 1
            ? 'one-successor'
            : `SUCCESSORS-${successors.size}`,
        JSON.stringify(raced.map((a) => a.status)),
      );
      const rt2 = [...successors][0]!;

      // Past the window, the superseded rt1 at the other replica is a replay: refused, and rt2 dies with it.
      await new Promise((r) => setTimeout(r, (REUSE_SECONDS + 1.5) * 1000));
      const replay = await refresh(1, rt1!);
      const after = await refresh(0, rt2);
      refreshes.check(
        `${name}: rt1 at replica 1 past the window`,
        'family-revoked',
        replay.status === 400 && replay.error === 'invalid_grant' && after.status === 400
          ? 'family-revoked'
          : `ALIVE-${replay.status}-${after.status}`,
      );
    }, 60_000);
  });
}

twoReplicas('one SQLite file', async () => ({ yaml: `  type: sqlite3\n  config:\n    file: issuer.db` }));

twoReplicas('one PostgreSQL database', async () => {
  const server = await startPostgres();
  const database = await server.createDatabase('replay');
  return {
    yaml: [
      '  type: postgres',
      '  config:',
      `    host: ${server.host}`,
      `    port: ${server.port}`,
      `    database: ${database}`,
      `    user: ${server.user}`,
      `    password: ${server.password}`,
      '    ssl: {mode: disable}',
    ].join('\n'),
    cleanup: async () => server.stop(),
  };
});

const kubeMissing = (await findGo()) === undefined && process.env.GATEHOUSE_KUBE_APISERVER === undefined;
if (kubeMissing && process.env.CI !== 'true') {
  describe('two issuer processes sharing the Kubernetes store', () => {
    it.skip('skipped: no Go to build kube-apiserver (set GATEHOUSE_KUBE_APISERVER or install Go)', () => {});
  });
} else {
  let kube: KubeCluster | undefined;
  twoReplicas('the Kubernetes store', async () => {
    const namespace = 'gatehouse-replay';
    kube = await startKubeApiServer({ namespace });
    const applied = await kube.kubectl(['apply', '-f', CRD_DIR]);
    if (applied.code !== 0) throw new Error(`kubectl apply -f deploy/crds: ${applied.stderr}`);
    const ready = await kube.kubectl(['wait', '--for=condition=Established', '--timeout=90s', '-f', CRD_DIR]);
    if (ready.code !== 0) throw new Error(`CRDs not established: ${ready.stderr}`);
    return {
      yaml: `  type: kubernetes\n  config:\n    inCluster: false\n    kubeConfigFile: ${JSON.stringify(kube.kubeconfigPath)}\n    namespace: ${namespace}`,
      cleanup: async () => kube?.stop(),
    };
  });
}
