/**
 * Dex's mock connectors, for development and tests. `mockCallback` has no upstream: its login
 * URL is the issuer's own callback, carrying the issuer's `state` and a one-time `code` that the
 * callback must bring back. `mockPassword` accepts exactly one configured username/password.
 * Both return Dex's Kilgore Trout identity.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { z } from 'zod';
import { CONNECTOR_KIT_VERSION, ConnectorError, ConnectorErrorCodes } from '@gatehouse/connector-kit';
import type {
  CallbackConnector,
  CallbackRequest,
  ConnectorFactory,
  Identity,
  LoginRedirect,
  PasswordConnector,
  PasswordLoginResult,
  RefreshConnector,
  Scopes,
} from '@gatehouse/connector-kit';

export const KILGORE_TROUT: Readonly<Identity> = Object.freeze({
  userId: '0-385-28089-0',
  username: 'Kilgore Trout',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: ['authors'],
});

function kilgore(): Identity {
  return { ...KILGORE_TROUT, groups: [...(KILGORE_TROUT.groups ?? [])] };
}

/** Constant-time string equality (hashing first makes lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

interface MockKept {
  state: string;
  code: string;
}

function isKept(x: unknown): x is MockKept {
  const k = x as Partial<MockKept> | null;
  return k !== null && typeof k === 'object' && typeof k.state === 'string' && typeof k.code === 'string';
}

export type MockCallbackConnector = CallbackConnector & RefreshConnector;

export const mockCallbackConfigSchema = z.strictObject({});

export function openMockCallback(): MockCallbackConnector {
  return {
    kind: 'callback',
    async loginURL(_scopes: Scopes, callbackURL: string, state: string): Promise<LoginRedirect> {
      const code = randomBytes(16).toString('base64url');
      const url = new URL(callbackURL);
      url.searchParams.set('state', state);
      url.searchParams.set('code', code);
      return { url: url.toString(), keep: { state, code } satisfies MockKept };
    },
    async handleCallback(_scopes: Scopes, kept: unknown, request: CallbackRequest): Promise<Identity> {
      const params =
        request.method === 'POST' && request.form !== undefined
          ? new URLSearchParams(request.form)
          : request.url.searchParams;
      const state = params.get('state');
      const code = params.get('code');
      if (!isKept(kept) || state === null || !safeEqual(state, kept.state)) {
        throw new ConnectorError(ConnectorErrorCodes.InvalidState, 'mock callback: state does not match this login', {
          userMessage: 'This sign-in link is not valid for the current login. Please start again.',
        });
      }
      const error = params.get('error');
      if (error !== null) {
        // Mirrors an OAuth error redirect; the description is not echoed (it is upstream-controlled).
        throw new ConnectorError(
          error === 'access_denied' ? ConnectorErrorCodes.AccessDenied : ConnectorErrorCodes.UpstreamError,
          `mock callback: error redirect (${error.slice(0, 64)})`,
        );
      }
      if (code === null || !safeEqual(code, kept.code)) {
        throw new ConnectorError(ConnectorErrorCodes.InvalidState, 'mock callback: code does not match this login', {
          userMessage: 'This sign-in link is not valid for the current login. Please start again.',
        });
      }
      return kilgore();
    },
    async refresh(_scopes: Scopes, identity: Identity): Promise<Identity> {
      return { ...kilgore(), connectorData: identity.connectorData };
    },
  };
}

export const mockCallbackFactory: ConnectorFactory<z.output<typeof mockCallbackConfigSchema>> = {
  type: 'mockCallback',
  kitVersion: CONNECTOR_KIT_VERSION,
  configSchema: mockCallbackConfigSchema,
  open: () => openMockCallback(),
};

export const mockPasswordConfigSchema = z.strictObject({
  username: z.string({ error: 'required' }).min(1, { message: 'required' }),
  password: z.string({ error: 'required' }).min(1, { message: 'required' }),
});
export type MockPasswordConfig = z.output<typeof mockPasswordConfigSchema>;

export type MockPasswordConnector = PasswordConnector & RefreshConnector;

export function openMockPassword(config: MockPasswordConfig): MockPasswordConnector {
  return {
    kind: 'password',
    prompt: 'Username',
    async login(_scopes: Scopes, username: string, password: string): Promise<PasswordLoginResult> {
      // Evaluate both comparisons so timing does not tell which one failed.
      const userOk = safeEqual(username, config.username);
      const passwordOk = safeEqual(password, config.password);
      if (!userOk || !passwordOk) return { ok: false };
      return { ok: true, identity: kilgore() };
    },
    async refresh(_scopes: Scopes, identity: Identity): Promise<Identity> {
      return { ...kilgore(), connectorData: identity.connectorData };
    },
  };
}

export const mockPasswordFactory: ConnectorFactory<MockPasswordConfig> = {
  type: 'mockPassword',
  kitVersion: CONNECTOR_KIT_VERSION,
  configSchema: mockPasswordConfigSchema,
  open: (_id, config) => openMockPassword(config),
};
