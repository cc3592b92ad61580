import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectConnectorError } from '@gatehouse/connector-kit/testing';
import type { FakeGitHub } from '@gatehouse/testkit/github';
import { createTestCA } from '@gatehouse/testkit/tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../src/index.ts';
import { ALL, CALLBACK, CLIENT, loginAs, openConnector, startWorld } from './fixtures.ts';
import type { Opened } from './fixtures.ts';

let gh: FakeGitHub;
let dir: string;
let wrongCA: string;
const opened: Opened[] = [];

beforeAll(async () => {
  gh = await startWorld({ https: true });
  dir = await mkdtemp(join(tmpdir(), 'gh-ghe-test-'));
  wrongCA = join(dir, 'wrong-ca.pem');
  await writeFile(wrongCA, (await createTestCA('Some Other CA')).caCert);
});
afterAll(async () => {
  for (const o of opened) await o.connector.close?.();
  await gh.close();
  await rm(dir, { recursive: true, force: true });
});

function gheConfig(extra: Record<string, unknown> = {}) {
  return {
    clientID: CLIENT.clientId,
    clientSecret: CLIENT.clientSecret,
    hostName: gh.hostName,
    rootCA: gh.caFile,
    requestTimeout: '3s',
    orgs: [{ name: 'acme' }],
    ...extra,
  };
}

describe('github connector: GitHub Enterprise Server (hostName + rootCA)', () => {
  it('uses https://{hostName}/login/oauth and /api/v3, trusting the custom CA', async () => {
    const o = await openConnector(gheConfig());
    opened.push(o);
    const redirect = await o.connector.loginURL(ALL, CALLBACK, 'ghe-state');
    expect(redirect.url.startsWith(`https://${gh.hostName}/login/oauth/authorize?`)).toBe(true);
    const before = gh.requests.length;
    const identity = await loginAs(gh, o.connector, 'alice');
    expect(identity).toMatchObject({ userId: '1001', preferredUsername: 'alice', email: 'alice@personal.example' });
    expect(identity.groups?.sort()).toEqual(['acme:Platform Team', 'acme:SRE']);
    // REST calls went under the /api/v3 prefix (the fake serves nothing else in GHE mode).
    expect(gh.requests.slice(before).some((r) => r.path === '/user/teams')).toBe(true);
  });

  it('refuses the host when rootCA is another CA (upstream_error naming TLS), without hanging', async () => {
    const o = await openConnector(gheConfig({ rootCA: wrongCA }));
    opened.push(o);
    const error = await loginAs(gh, o.connector, 'alice').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_error' });
    expect((error as Error).message).toMatch(/TLS certificate .* not trusted/);
  });

  it('refuses the host with the system trust store only (no rootCA)', async () => {
    const o = await openConnector(gheConfig({ rootCA: undefined }));
    opened.push(o);
    await expectConnectorError(loginAs(gh, o.connector, 'alice'), 'upstream_error');
  });

  it('treats an email without a verified field as verified on GHE, but never verified:false', async () => {
    gh.setEmails('bob', [{ email: 'bob@ghe.example', primary: true }]);
    gh.setEmails('carol', [{ email: 'carol@ghe.example', primary: true, verified: false }]);
    const o = await openConnector(gheConfig({ orgs: undefined }));
    opened.push(o);
    expect((await loginAs(gh, o.connector, 'bob')).email).toBe('bob@ghe.example');
    await expectConnectorError(loginAs(gh, o.connector, 'carol'), 'access_denied');
  });

  it('fails to open with a clear invalid_configuration when rootCA cannot be read', async () => {
    const parsed = factory.configSchema.parse(gheConfig({ rootCA: join(dir, 'missing.pem') }));
    await expect(
      Promise.resolve().then(() =>
        factory.open('github', parsed, {
          logger: {
            debug() {},
            info() {},
            warn() {},
            error() {},
            child() {
              return this;
            },
          },
          issuerURL: 'https://i.test',
          callbackURL: CALLBACK,
        }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_configuration', key: 'rootCA' });
  });
});
