/**
 * `oauth2`: grant and response types, the approval screen, the password grant's connector, PKCE.
 * Gatehouse offers only the authorization-code flow; Dex's other values are accepted with a warning.
 */
import { z } from 'zod';
import { LOCAL_CONNECTOR_ID } from '../../connectors/local.ts';
import { closest } from '../keys.ts';
import { type RuleContext, type Raw, rec, str } from '../context.ts';

export const GRANT_TYPES = {
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  password: 'password',
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  tokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
  clientCredentials: 'client_credentials',
  implicit: 'implicit',
} as const;

const RESPONSE_TYPES: readonly string[] = [
  'code',
  'id_token',
  'code id_token',
  'code token',
  'id_token token',
  'code id_token token',
];

export const oauth2Schema = z.object({
  /** Checked and reduced to what Gatehouse offers by checkOAuth2. */
  grantTypes: z.array(z.string()).optional(),
  responseTypes: z.array(z.string()).optional(),
  skipApprovalScreen: z.boolean().default(false),
  alwaysShowLoginScreen: z.boolean().default(false),
  /** Connector id used for the `password` grant; unset = password grant off. */
  passwordConnector: z.string().min(1).optional(),
  pkce: z
    .object({
      enforce: z.boolean().default(false),
      codeChallengeMethodsSupported: z.array(z.string()).optional(),
    })
    .prefault({}),
});

type ParsedOAuth2 = z.output<typeof oauth2Schema>;

export interface OAuth2Config extends Omit<ParsedOAuth2, 'grantTypes' | 'responseTypes' | 'pkce'> {
  grantTypes: string[];
  responseTypes: string[];
  pkce: Omit<ParsedOAuth2['pkce'], 'codeChallengeMethodsSupported'> & {
    codeChallengeMethodsSupported: Array<'S256' | 'plain'>;
  };
}

/** What the file's lists come to (checkOAuth2); undefined where the file has none. */
export interface OAuth2Lists {
  grantTypes?: string[];
  pkceMethods?: Array<'S256' | 'plain'>;
}

/** Dex grant types Gatehouse does not offer, with the reason given in the warning. */
const NOT_IMPLEMENTED_GRANTS: Record<string, string> = {
  [GRANT_TYPES.tokenExchange]: 'token exchange is not implemented by Gatehouse',
  [GRANT_TYPES.implicit]:
    "Gatehouse offers only the authorization-code flow (implicit puts tokens in the browser's URL)",
};

const RESPONSE_TYPE_ORDER = ['code', 'id_token', 'token'];
function canonicalResponseType(s: string): string {
  return s
    .trim()
    .split(/\s+/)
    .sort((a, b) => RESPONSE_TYPE_ORDER.indexOf(a) - RESPONSE_TYPE_ORDER.indexOf(b))
    .join(' ');
}

/** `connectorIds`: the ids `passwordConnector` may name (the file's connectors, `local` with the password DB). */
export function checkOAuth2(file: Raw, ctx: RuleContext, connectorIds: ReadonlySet<string>): OAuth2Lists {
  const oauth2 = rec(file, 'oauth2');
  const out: OAuth2Lists = {};
  const passwordConnector = str(oauth2, 'passwordConnector');
  const passwordDB = file['enablePasswordDB'] === true;
  if (passwordConnector !== undefined && !connectorIds.has(passwordConnector)) {
    ctx.errors.push({
      path: 'oauth2.passwordConnector',
      message:
        passwordConnector === LOCAL_CONNECTOR_ID
          ? '"local" needs enablePasswordDB: true'
          : `no connector with id "${passwordConnector}"${passwordDB ? ' (or use "local")' : ''}`,
    });
  }

  const rawResponse = oauth2?.['responseTypes'];
  if (Array.isArray(rawResponse)) {
    rawResponse.forEach((t, i) => {
      if (typeof t !== 'string') return;
      const c = canonicalResponseType(t);
      if (c === 'token') {
        ctx.errors.push({
          path: `oauth2.responseTypes[${i}]`,
          message: '"token" cannot be used alone (Dex refuses it too); use code',
        });
      } else if (!RESPONSE_TYPES.includes(c)) {
        ctx.errors.push({ path: `oauth2.responseTypes[${i}]`, message: `unsupported response type "${t}"; use code` });
      } else if (c !== 'code') {
        ctx.warnings.push({
          path: `oauth2.responseTypes[${i}]`,
          message: `"${c}" is ignored: Gatehouse offers only the authorization-code flow (implicit and hybrid flows put tokens in the browser's URL)`,
        });
      }
    });
  }

  const known = Object.values(GRANT_TYPES) as string[];
  const rawGrants = oauth2?.['grantTypes'];
  if (Array.isArray(rawGrants) && rawGrants.length > 0) {
    const grants: string[] = [];
    rawGrants.forEach((g, i) => {
      if (typeof g !== 'string') return;
      const p = `oauth2.grantTypes[${i}]`;
      if (!known.includes(g)) {
        const s = closest(g, known);
        ctx.errors.push({
          path: p,
          message: `unknown grant type "${g}"${s === undefined ? '' : ` (did you mean "${s}"?)`}`,
        });
      } else if (NOT_IMPLEMENTED_GRANTS[g] !== undefined) {
        ctx.warnings.push({ path: p, message: `ignored: ${NOT_IMPLEMENTED_GRANTS[g]}` });
      } else if (g === GRANT_TYPES.password && passwordConnector === undefined) {
        ctx.warnings.push({ path: p, message: 'the password grant needs oauth2.passwordConnector; it stays off' });
      } else if (!grants.includes(g)) grants.push(g);
    });
    out.grantTypes = grants;
  }

  const rawMethods = rec(oauth2, 'pkce')?.['codeChallengeMethodsSupported'];
  if (Array.isArray(rawMethods)) {
    const methods: Array<'S256' | 'plain'> = [];
    rawMethods.forEach((m, i) => {
      const p = `oauth2.pkce.codeChallengeMethodsSupported[${i}]`;
      if (m === 'S256') methods.push('S256');
      else if (m === 'plain')
        ctx.warnings.push({
          path: p,
          message: '"plain" is not supported (the OIDC engine implements S256 only) and is ignored',
        });
      else if (typeof m === 'string')
        ctx.errors.push({ path: p, message: `unsupported PKCE challenge method "${m}"; use S256` });
    });
    if (methods.length === 0 && rawMethods.length > 0) {
      ctx.errors.push({ path: 'oauth2.pkce.codeChallengeMethodsSupported', message: 'must include S256' });
    }
    if (methods.length > 0) out.pkceMethods = methods;
  }
  return out;
}

export function finishOAuth2(parsed: ParsedOAuth2, lists: OAuth2Lists): OAuth2Config {
  // Dex's default grant list, limited to what Gatehouse implements and the config makes possible.
  const defaultGrants: string[] = [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken, GRANT_TYPES.deviceCode];
  if (parsed.passwordConnector !== undefined) defaultGrants.push(GRANT_TYPES.password);
  return {
    ...parsed,
    grantTypes: lists.grantTypes ?? defaultGrants,
    // Dex's other response types are accepted for compatibility but never offered.
    responseTypes: ['code'],
    pkce: { ...parsed.pkce, codeChallengeMethodsSupported: lists.pkceMethods ?? ['S256'] },
  };
}
