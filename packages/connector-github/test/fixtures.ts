import type { CallbackConnector, CallbackRequest, Connector, Identity, Scopes } from '@gatehouse/connector-kit';
import { createMemoryLogger } from '@gatehouse/connector-kit/testing';
import type { MemoryLogger } from '@gatehouse/connector-kit/testing';
import { startFakeGitHub } from '@gatehouse/testkit/github';
import type { FakeGitHub, FakeGitHubOptions, FakeGitHubTeam } from '@gatehouse/testkit/github';
import { Agent, fetch } from 'undici';
import { factory } from '../src/index.ts';
import type { GitHubConfigInput } from '../src/index.ts';

export const CALLBACK = 'https://issuer.test/dex/callback';
export const CLIENT = { clientId: 'gh-client-id', clientSecret: 'gh-client-secret-value', callbackURL: CALLBACK };

/** 150 teams in `acme` with dave in all of them: two pages of 100 and 50. */
export const MANY_TEAMS: FakeGitHubTeam[] = Array.from({ length: 150 }, (_, i) => ({
  org: 'acme',
  name: `Team ${String(i + 1).padStart(3, '0')}`,
  members: ['dave'],
}));

/** The test world: alice in acme (two teams), bob only in `other`, carol with no verified email, dave in 150 teams. */
export function world(overrides: Partial<FakeGitHubOptions> = {}): FakeGitHubOptions {
  return {
    users: [
      {
        id: 1001,
        login: 'alice',
        name: 'Alice Liddell',
        email: null,
        emails: [
          { email: 'alice@personal.example', verified: true, primary: true },
          { email: 'alice@acme.example', verified: true, primary: false },
          { email: 'alice-old@acme.example', verified: false, primary: false },
        ],
      },
      { id: 1002, login: 'bob', name: null, emails: [{ email: 'bob@other.example', verified: true, primary: true }] },
      {
        id: 1003,
        login: 'carol',
        name: 'Carol',
        emails: [{ email: 'carol@acme.example', verified: false, primary: true }],
      },
      {
        id: 1004,
        login: 'dave',
        name: 'Dave',
        emails: [{ email: 'dave@acme.example', verified: true, primary: true }],
      },
    ],
    orgs: [
      { login: 'acme', members: ['alice', 'carol', 'dave'] },
      { login: 'other', members: ['bob', 'alice'] },
    ],
    teams: [
      { org: 'acme', name: 'Platform Team', members: ['alice'] },
      { org: 'acme', name: 'SRE', members: ['alice'] },
      { org: 'other', name: 'Readers', members: ['alice', 'bob'] },
      ...MANY_TEAMS,
    ],
    clients: [CLIENT],
    ...overrides,
  };
}

export async function startWorld(overrides: Partial<FakeGitHubOptions> = {}): Promise<FakeGitHub> {
  return startFakeGitHub(world(overrides));
}

/** Connector config for the fake in github.com mode (plain HTTP on loopback via apiURL/oauthURL). */
export function dotComConfig(gh: FakeGitHub, extra: Partial<GitHubConfigInput> = {}): GitHubConfigInput {
  return {
    clientID: CLIENT.clientId,
    clientSecret: CLIENT.clientSecret,
    apiURL: gh.apiURL,
    oauthURL: gh.url,
    requestTimeout: '2s',
    ...extra,
  };
}

export interface Opened {
  connector: CallbackConnector & Connector;
  logger: MemoryLogger;
}

export async function openConnector(config: GitHubConfigInput): Promise<Opened> {
  const parsed = factory.configSchema.safeParse(config);
  if (!parsed.success) throw new Error(`config rejected: ${JSON.stringify(parsed.error.issues)}`);
  const logger = createMemoryLogger();
  const connector = await factory.open('github', parsed.data, {
    logger,
    issuerURL: 'https://issuer.test/dex',
    callbackURL: CALLBACK,
  });
  if (connector.kind !== 'callback') throw new Error('not a callback connector');
  return { connector: connector as CallbackConnector & Connector, logger };
}

/** Plays the browser at the fake's authorize endpoint (auto-approve) and returns the callback request. */
export async function driveLogin(gh: FakeGitHub, loginURL: string): Promise<CallbackRequest> {
  const dispatcher = new Agent(gh.caCert ? { connect: { ca: gh.caCert } } : {});
  try {
    const res = await fetch(loginURL, { redirect: 'manual', dispatcher });
    await res.text();
    const location = res.headers.get('location');
    if (res.status !== 302 || !location) throw new Error(`authorize answered ${res.status} without a redirect`);
    return { url: new URL(location), method: 'GET' };
  } finally {
    await dispatcher.close();
  }
}

export const ALL: Scopes = { offlineAccess: true, groups: true };

/** Full login as `login` through the connector. */
export async function loginAs(
  gh: FakeGitHub,
  connector: CallbackConnector,
  login: string,
  scopes: Scopes = ALL,
): Promise<Identity> {
  gh.signIn(login);
  const state = `state-${Math.random().toString(36).slice(2)}`;
  const redirect = await connector.loginURL(scopes, CALLBACK, state);
  const request = await driveLogin(gh, redirect.url);
  return connector.handleCallback(scopes, JSON.parse(JSON.stringify(redirect.keep)), request);
}

/** Asserts no log record holds any of these strings (tokens, secrets). */
export function assertNotLogged(logger: MemoryLogger, secrets: string[]): void {
  const text = JSON.stringify(logger.records, (_k, v: unknown) =>
    v instanceof Error ? { message: v.message, stack: v.stack } : v,
  );
  for (const s of secrets) if (s && text.includes(s)) throw new Error(`a secret was logged: ${s.slice(0, 6)}…`);
}
