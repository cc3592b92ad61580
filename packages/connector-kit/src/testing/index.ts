/**
 * `@gatehouse/connector-kit/testing`: the conformance kit every connector package runs in its own
 * vitest suite, against its own fake or real upstream. It declares vitest tests; call it at the
 * top level of a test file (or inside a `describe`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCompatibleKitVersion } from '../define.ts';
import { ConnectorErrorCodes, isConnectorError } from '../errors.ts';
import type { ConnectorErrorCode } from '../errors.ts';
import { canRefresh, isCallbackConnector, isPasswordConnector } from '../types.ts';
import type {
  CallbackConnector,
  CallbackRequest,
  Connector,
  ConnectorContext,
  ConnectorFactory,
  ConnectorLogger,
  Identity,
  PasswordConnector,
  Scopes,
} from '../types.ts';
import { assertIdentityShape } from './identity.ts';
import type { IdentityShapeOptions } from './identity.ts';

export { assertIdentityShape, looksLikeEmail } from './identity.ts';
export type { IdentityShapeOptions } from './identity.ts';

/** Something the test does to the upstream (or undoes); may be async. */
export type Hook = () => void | Promise<void>;

/** Options for callback (OAuth2/OIDC) connectors. */
export interface CallbackConformance {
  /**
   * Plays the browser and the user at the upstream: start at `loginURL` (what the connector's
   * `loginURL()` returned), sign in as the kit's test user, and return the request the upstream
   * sends the browser back with (normally a GET to `callbackURL?code=…&state=…`).
   */
  driveLogin(loginURL: string, callbackURL: string): Promise<CallbackRequest>;
  /** Query parameter of the login URL that must carry the issuer's state verbatim. Default `state`. */
  stateParam?: string;
  /**
   * Check that an OAuth2 error redirect (`?error=access_denied&state=…`) becomes a `ConnectorError`
   * with code `access_denied`. Default true.
   */
  oauthErrorRedirect?: boolean;
}

/** Options for password connectors (LDAP, local password DB). */
export interface PasswordConformance {
  /** A user the upstream knows, with their correct password. */
  username: string;
  password: string;
  /** A password that is wrong for `username`. Default: `password` + `-wrong`. */
  wrongPassword?: string;
  /** A username the upstream does not know. Default: a random one. */
  unknownUsername?: string;
}

/** Options for the refresh checks (`RefreshConnector`). */
export interface RefreshConformance {
  /**
   * Make the upstream forget the user that logged in (delete them, revoke their token...).
   * The next `refresh` must then fail with a `ConnectorError` (code in `failureCodes`).
   */
  removeUser(identity: Identity): void | Promise<void>;
  /** Undo `removeUser`, so later suites can log in again. */
  restoreUser?: Hook;
  /** Codes accepted when the user is gone. Default `['refresh_failed']`. */
  failureCodes?: ConnectorErrorCode[];
}

/** A fault injected into the upstream, after which the connector must fail cleanly. */
export interface UpstreamFault {
  /** Shown in the test name, e.g. "upstream down", "HTTP 500", "hangs". */
  name: string;
  set: Hook;
  clear: Hook;
  /** The code the connector must throw. Default `upstream_unavailable`. */
  code?: ConnectorErrorCode;
  /** Which operations to try under the fault. Default: login, and refresh when supported. */
  operations?: Array<'login' | 'refresh'>;
}

export interface ConformanceOptions<Config> {
  /** Suite name, e.g. `microsoft connector`. */
  name: string;
  factory: ConnectorFactory<Config>;
  /**
   * The raw `config` block as it would appear in the issuer's YAML (it is parsed with the factory's
   * schema). A function is called in `beforeAll`, after the fake upstream has started.
   */
  config: unknown | (() => unknown | Promise<unknown>);
  /** Configs the schema must reject, each with the key path that must be named. */
  invalidConfigs?: Array<{ config: unknown; path: string }>;
  /** Overrides for the context given to `open`. Default issuer `https://issuer.test/dex`. */
  context?: Partial<ConnectorContext>;
  /** Scopes for login and refresh. Default `{offlineAccess: true, groups: true}`. */
  scopes?: Partial<Scopes>;
  /** Required when the connector is a callback connector. */
  callback?: CallbackConformance;
  /** Required when the connector is a password connector. */
  password?: PasswordConformance;
  /** Required when the connector implements `refresh`. */
  refresh?: RefreshConformance;
  /** Upstream faults; at least one ("upstream down") is expected of every connector. */
  faults?: UpstreamFault[];
  /** Identity shape rules (`userIdMayBeEmail`...) and extra checks on every identity produced. */
  identity?: IdentityShapeOptions & { check?(identity: Identity): void | Promise<void> };
  /**
   * Upper bound for one connector call, so a hang fails the test instead of stalling the run.
   * Default 20 000 ms; keep it above the connector's own upstream timeout.
   */
  callTimeoutMs?: number;
}

/** A logger that keeps every record, so tests can assert that no secret was logged. */
export interface MemoryLogger extends ConnectorLogger {
  readonly records: Array<{ level: string; obj: object; msg: string | undefined }>;
}

/** Creates a `ConnectorLogger` that records what it is given. */
export function createMemoryLogger(bindings: object = {}, records: MemoryLogger['records'] = []): MemoryLogger {
  const log = (level: string) => (obj: object, msg?: string) => {
    records.push({ level, obj: { ...bindings, ...obj }, msg });
  };
  return {
    records,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more: object) => createMemoryLogger({ ...bindings, ...more }, records),
  };
}

/** Rejects when `promise` has not settled after `ms`, naming what hung. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang?)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Awaits `promise` and asserts it rejected with a `ConnectorError` whose code is one of `codes`. */
export async function expectConnectorError(
  promise: Promise<unknown>,
  codes: ConnectorErrorCode | ConnectorErrorCode[],
): Promise<void> {
  const wanted = Array.isArray(codes) ? codes : [codes];
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await promise };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) {
    throw new Error(`expected a ConnectorError (${wanted.join('|')}) but the call succeeded`);
  }
  const { error } = outcome;
  if (!isConnectorError(error)) {
    throw new Error(`expected a ConnectorError (${wanted.join('|')}), got ${String(error)}`, { cause: error });
  }
  expect(wanted, `ConnectorError code (message: ${error.message})`).toContain(error.code);
}

/** JSON round trip: what the issuer does to connectorData and kept login state when it stores them. */
function viaStore<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

interface Started {
  connector: Connector;
  scopes: Scopes;
  context: ConnectorContext;
}

const TEST_CONTEXT: ConnectorContext = {
  logger: createMemoryLogger(),
  issuerURL: 'https://issuer.test/dex',
  callbackURL: 'https://issuer.test/dex/callback',
};

let stateCounter = 0;
function freshState(): string {
  stateCounter += 1;
  return `conformance-state-${stateCounter}-${Math.random().toString(36).slice(2)}`;
}

/** One full callback login: loginURL, the upstream round trip, handleCallback. */
async function callbackLogin(
  c: CallbackConnector,
  s: Started,
  options: CallbackConformance,
  ms: number,
): Promise<Identity> {
  const state = freshState();
  const redirect = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, state));
  const request = await within(ms, 'driveLogin', options.driveLogin(redirect.url, s.context.callbackURL));
  return within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(redirect.keep), request));
}

async function passwordLogin(
  c: PasswordConnector,
  s: Started,
  options: PasswordConformance,
  ms: number,
): Promise<Identity> {
  const result = await within(ms, 'login', c.login(s.scopes, options.username, options.password));
  if (!result.ok) throw new Error(`login of ${options.username} with the right password returned {ok: false}`);
  return result.identity;
}

function withParam(url: string, name: string, value: string): URL {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u;
}

/**
 * Declares the conformance tests for one connector configuration.
 *
 * Covered: factory metadata and config schema; the login round trip (callback: state carried
 * upstream and bound to this login's kept data, `invalid_state` for another login's callback,
 * OAuth error redirects; password: right, wrong, empty password, unknown user); identity shape;
 * refresh (same `userId`, `refresh_failed` once the upstream forgot the user); upstream faults
 * (`upstream_unavailable` within a bounded time, never a crash or hang).
 */
export function runConnectorConformance<Config>(options: ConformanceOptions<Config>): void {
  const ms = options.callTimeoutMs ?? 20_000;
  const scopes: Scopes = { offlineAccess: true, groups: true, ...options.scopes };
  const context: ConnectorContext = { ...TEST_CONTEXT, ...options.context };
  let started: Started | undefined;

  const get = (): Started => {
    if (!started) throw new Error('the connector did not open (see the beforeAll error)');
    return started;
  };

  const login = (): Promise<Identity> => {
    const s = get();
    const c = s.connector;
    if (isCallbackConnector(c)) {
      if (!options.callback) throw new Error('callback connector: pass options.callback');
      return callbackLogin(c, s, options.callback, ms);
    }
    if (isPasswordConnector(c)) {
      if (!options.password) throw new Error('password connector: pass options.password');
      return passwordLogin(c, s, options.password, ms);
    }
    throw new Error(`unknown connector kind ${(c as { kind?: unknown }).kind as string}`);
  };

  const checkIdentity = async (identity: Identity): Promise<void> => {
    assertIdentityShape(identity, options.identity);
    await options.identity?.check?.(identity);
  };

  describe(`${options.name}: connector conformance`, () => {
    beforeAll(async () => {
      const raw = typeof options.config === 'function' ? await (options.config as () => unknown)() : options.config;
      const parsed = options.factory.configSchema.safeParse(raw);
      if (!parsed.success) {
        throw new Error(
          `config rejected by the schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      const connector = await within(
        ms,
        'open',
        Promise.resolve(options.factory.open('conformance', parsed.data, context)),
      );
      started = { connector, scopes, context };
    });

    afterAll(async () => {
      await started?.connector.close?.();
    });

    describe('factory', () => {
      it('declares a type, a compatible kit version and a config schema', () => {
        expect(options.factory.type).toMatch(/^[A-Za-z@][A-Za-z0-9@/._-]*$/);
        expect(isCompatibleKitVersion(options.factory.kitVersion), `kitVersion ${options.factory.kitVersion}`).toBe(
          true,
        );
        expect(typeof options.factory.configSchema.safeParse).toBe('function');
        expect(typeof options.factory.open).toBe('function');
      });

      for (const bad of options.invalidConfigs ?? []) {
        it(`rejects an invalid config, naming ${bad.path}`, () => {
          const result = options.factory.configSchema.safeParse(bad.config);
          expect(result.success).toBe(false);
          const paths = result.success ? [] : result.error.issues.map((i) => i.path.join('.'));
          expect(paths).toContain(bad.path);
        });
      }

      if (options.factory.warnings) {
        it('warnings() returns a list of strings', async () => {
          const raw = typeof options.config === 'function' ? await (options.config as () => unknown)() : options.config;
          const parsed = options.factory.configSchema.parse(raw);
          const warnings = options.factory.warnings?.(parsed) ?? [];
          expect(Array.isArray(warnings)).toBe(true);
          for (const w of warnings) expect(typeof w).toBe('string');
        });
      }
    });

    describe('login', () => {
      it('logs the test user in and returns a well-formed identity', async () => {
        const identity = await login();
        await checkIdentity(identity);
      });

      it('produces the same userId on every login of one user', async () => {
        const first = await login();
        const second = await login();
        expect(second.userId).toBe(first.userId);
      });

      if (options.callback) {
        const cb = options.callback;
        const callback = (): CallbackConnector => {
          const c = get().connector;
          if (!isCallbackConnector(c))
            throw new Error('options.callback given, but the connector is not a callback connector');
          return c;
        };

        it('carries the state it was given in the login URL', async () => {
          const s = get();
          const state = freshState();
          const redirect = await within(ms, 'loginURL', callback().loginURL(s.scopes, s.context.callbackURL, state));
          const url = new URL(redirect.url);
          expect(url.searchParams.get(cb.stateParam ?? 'state')).toBe(state);
          expect(() => JSON.stringify(redirect.keep)).not.toThrow();
        });

        it("refuses another login's callback with invalid_state, then accepts the right one", async () => {
          const s = get();
          const c = callback();
          const stateA = freshState();
          const stateB = freshState();
          const a = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, stateA));
          const b = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, stateB));
          const requestA = await within(ms, 'driveLogin', cb.driveLogin(a.url, s.context.callbackURL));
          // A's callback presented to login B (B's kept data): the state does not match B's.
          await expectConnectorError(
            within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(b.keep), requestA)),
            ConnectorErrorCodes.InvalidState,
          );
          // A's code with a forged state presented to login A.
          const forged: CallbackRequest = { ...requestA, url: withParam(requestA.url.href, 'state', stateB) };
          await expectConnectorError(
            within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(a.keep), forged)),
            ConnectorErrorCodes.InvalidState,
          );
          // The refusals happened before the code was spent: the genuine callback still works.
          const identity = await within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(a.keep), requestA));
          await checkIdentity(identity);
        });

        it('refuses a callback without state or kept data with invalid_state', async () => {
          const s = get();
          const c = callback();
          const redirect = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, freshState()));
          const request = await within(ms, 'driveLogin', cb.driveLogin(redirect.url, s.context.callbackURL));
          const stripped = new URL(request.url.href);
          stripped.searchParams.delete(cb.stateParam ?? 'state');
          await expectConnectorError(
            within(
              ms,
              'handleCallback',
              c.handleCallback(s.scopes, viaStore(redirect.keep), { ...request, url: stripped }),
            ),
            ConnectorErrorCodes.InvalidState,
          );
          await expectConnectorError(
            within(ms, 'handleCallback', c.handleCallback(s.scopes, undefined, request)),
            ConnectorErrorCodes.InvalidState,
          );
        });

        it('turns a callback without a code into a ConnectorError, not a crash', async () => {
          const s = get();
          const c = callback();
          const state = freshState();
          const redirect = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, state));
          const url = withParam(s.context.callbackURL, cb.stateParam ?? 'state', state);
          await expectConnectorError(
            within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(redirect.keep), { url, method: 'GET' })),
            [ConnectorErrorCodes.InvalidState, ConnectorErrorCodes.UpstreamError],
          );
        });

        if (cb.oauthErrorRedirect !== false) {
          it('maps an OAuth error redirect (error=access_denied) to access_denied', async () => {
            const s = get();
            const c = callback();
            const state = freshState();
            const redirect = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, state));
            const url = withParam(s.context.callbackURL, cb.stateParam ?? 'state', state);
            url.searchParams.set('error', 'access_denied');
            url.searchParams.set('error_description', 'The user declined.');
            await expectConnectorError(
              within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(redirect.keep), { url, method: 'GET' })),
              ConnectorErrorCodes.AccessDenied,
            );
          });
        }
      }

      if (options.password) {
        const pw = options.password;
        const password = (): PasswordConnector => {
          const c = get().connector;
          if (!isPasswordConnector(c))
            throw new Error('options.password given, but the connector is not a password connector');
          return c;
        };

        it('has a prompt for the username field', () => {
          expect(typeof password().prompt).toBe('string');
          expect(password().prompt.length).toBeGreaterThan(0);
        });

        it('answers {ok: false} for a wrong password', async () => {
          const result = await within(
            ms,
            'login',
            password().login(get().scopes, pw.username, pw.wrongPassword ?? `${pw.password}-wrong`),
          );
          expect(result).toEqual({ ok: false });
        });

        it('answers {ok: false} for an unknown user', async () => {
          const unknown = pw.unknownUsername ?? `nobody-${Math.random().toString(36).slice(2)}`;
          const result = await within(ms, 'login', password().login(get().scopes, unknown, pw.password));
          expect(result).toEqual({ ok: false });
        });

        it('answers {ok: false} for an empty password without asking the upstream', async () => {
          // With every fault applied the upstream cannot answer; an empty password must still be
          // refused locally (an LDAP bind with an empty password is an anonymous bind that succeeds).
          const faults = options.faults ?? [];
          for (const f of faults) await f.set();
          try {
            const result = await within(ms, 'login', password().login(get().scopes, pw.username, ''));
            expect(result).toEqual({ ok: false });
          } finally {
            for (const f of faults) await f.clear();
          }
        });
      }
    });

    if (options.refresh) {
      const rf = options.refresh;
      describe('refresh', () => {
        const refresher = () => {
          const c = get().connector;
          if (!canRefresh(c)) throw new Error('options.refresh given, but the connector has no refresh()');
          return c;
        };

        it('refreshes a stored identity to the same userId', async () => {
          const identity = viaStore(await login());
          const refreshed = await within(ms, 'refresh', refresher().refresh(get().scopes, identity));
          expect(refreshed.userId).toBe(identity.userId);
          await checkIdentity(refreshed);
          // The refreshed identity is itself refreshable (rotated upstream tokens are kept).
          const again = await within(ms, 'refresh', refresher().refresh(get().scopes, viaStore(refreshed)));
          expect(again.userId).toBe(identity.userId);
        });

        it('fails with refresh_failed once the upstream no longer knows the user', async () => {
          const identity = viaStore(await login());
          await rf.removeUser(identity);
          try {
            await expectConnectorError(
              within(ms, 'refresh', refresher().refresh(get().scopes, identity)),
              rf.failureCodes ?? [ConnectorErrorCodes.RefreshFailed],
            );
          } finally {
            await rf.restoreUser?.();
          }
        });
      });
    }

    describe('upstream faults', () => {
      it('has at least one upstream fault to test', () => {
        expect((options.faults ?? []).length, 'pass options.faults (e.g. "upstream down")').toBeGreaterThan(0);
      });

      for (const fault of options.faults ?? []) {
        const code = fault.code ?? ConnectorErrorCodes.UpstreamUnavailable;
        const ops = fault.operations ?? ['login', 'refresh'];

        if (ops.includes('login')) {
          it(`login fails with ${code} when ${fault.name}`, async () => {
            const s = get();
            const c = s.connector;
            if (isCallbackConnector(c)) {
              // The browser leg happens while the upstream is healthy; the code redemption hits the fault.
              const cb = options.callback;
              if (!cb) throw new Error('callback connector: pass options.callback');
              const state = freshState();
              const redirect = await within(ms, 'loginURL', c.loginURL(s.scopes, s.context.callbackURL, state));
              const request = await within(ms, 'driveLogin', cb.driveLogin(redirect.url, s.context.callbackURL));
              await fault.set();
              try {
                await expectConnectorError(
                  within(ms, 'handleCallback', c.handleCallback(s.scopes, viaStore(redirect.keep), request)),
                  code,
                );
              } finally {
                await fault.clear();
              }
            } else if (isPasswordConnector(c)) {
              const pw = options.password;
              if (!pw) throw new Error('password connector: pass options.password');
              await fault.set();
              try {
                await expectConnectorError(within(ms, 'login', c.login(s.scopes, pw.username, pw.password)), code);
              } finally {
                await fault.clear();
              }
            }
            // Recovered: the next login works again.
            await checkIdentity(await login());
          });
        }

        if (ops.includes('refresh') && options.refresh) {
          it(`refresh fails with ${code} when ${fault.name}`, async () => {
            const c = get().connector;
            if (!canRefresh(c)) throw new Error('options.refresh given, but the connector has no refresh()');
            const identity = viaStore(await login());
            await fault.set();
            try {
              await expectConnectorError(within(ms, 'refresh', c.refresh(get().scopes, identity)), code);
            } finally {
              await fault.clear();
            }
          });
        }
      }
    });
  });
}
