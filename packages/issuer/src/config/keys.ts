/**
 * Finds keys the schema does not know. A key Dex has but Gatehouse does not implement is a
 * warning that says what to use instead, or an error when it restricts access (ignoring it would
 * fail open); a key nobody has (a typo) is an error with the closest
 * known key as a suggestion. A key that differs from a known one only by case (Dex decodes keys
 * case-insensitively) is renamed, with a warning.
 */
import type { output, ZodType } from 'zod';
import type { ConfigIssue } from './types.ts';

export type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

/** Dex keys Gatehouse does not implement (`[]` = any array index), with what to use instead. */
export const DEX_ONLY_KEYS: Record<string, string> = {
  grpc: 'the gRPC API is not implemented; manage clients and connectors through the storage (Kubernetes custom resources) instead',
  sessions: 'browser sessions are managed by the OIDC engine and need no configuration',
  'web.tlsMinVersion': 'Gatehouse always requires TLS 1.2 or later; terminate TLS at the ingress for another policy',
  'web.tlsMaxVersion': 'Gatehouse negotiates up to TLS 1.3; terminate TLS at the ingress for another policy',
  'web.clientRemoteIP': 'use web.trustedProxies (the proxies whose X-Forwarded-For is trusted)',
  'web.allowedHeaders': 'CORS requests may send the Authorization header; other request headers are not configurable',
  'telemetry.enableProfiling': 'profile with `node --cpu-prof` or `--inspect` instead',
  'logger.excludeFields': 'secrets are always redacted from logs; other fields cannot be excluded',
  'frontend.dir': 'use frontend.logoURL, frontend.theme (light or dark) and frontend.colors',
  'staticClients[].backchannelLogoutURI': 'back-channel logout is not implemented',
  'staticClients[].ssoSharedWith': 'there is no SSO between clients: every authorization logs in through a connector',
  'staticClients[].clientCredentialsClaims': 'client_credentials tokens carry no extra claims',
};

/**
 * Dex keys that restrict access and that Gatehouse cannot enforce: ignoring them would fail
 * open, so their presence is a start-up error. `unless` exempts values that restrict nothing
 * Gatehouse does not already enforce.
 */
export const DEX_RESTRICTION_KEYS: Record<string, { why: string; unless?: (value: unknown) => boolean }> = {
  mfa: {
    why: 'multi-factor authentication is not implemented; enforce it at the upstream identity provider (e.g. Entra ID conditional access)',
  },
  'staticClients[].mfaChain': {
    why: 'multi-factor authentication is not implemented; enforce it at the upstream identity provider',
  },
  'staticClients[].refreshTokenLifetime': {
    why: 'per-client refresh token lifetimes are not implemented; set expiry.refreshTokens',
  },
  'connectors[].grantTypes': {
    why: 'per-connector grant types are not implemented; every connector serves every grant type in oauth2.grantTypes',
  },
  'web.tlsMinVersion': {
    why: 'the TLS listener accepts TLS 1.2 and later; terminate TLS at the ingress to require TLS 1.3',
    unless: (v) => v === '1.2' || v === 1.2 || v === 'VersionTLS12',
  },
};
const RESTRICTION_MESSAGE = 'not supported; refusing to start rather than ignore an access restriction';

type ZodDef = { type: string; innerType?: ZodType; in?: ZodType; element?: ZodType; shape?: Record<string, ZodType> };

function defOf(schema: ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

/** Strips optional/default/pipe wrappers down to the schema that describes the value's shape. */
function unwrap(schema: ZodType): ZodType {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    if (d.innerType !== undefined) s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else return s;
  }
  return s;
}

function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[y.length] ?? 0;
}

export function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(key, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Only suggest when the key is plausibly a misspelling.
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Walks `value` against `schema`, collecting unknown keys. Returns a copy in which case-only
 * misspellings are renamed and Dex-only keys removed. Leaves (records, unknowns) are not entered.
 */
export function checkKeys(
  value: unknown,
  schema: ZodType,
  errors: ConfigIssue[],
  warnings: ConfigIssue[],
  path: PathPart[] = [],
): unknown {
  const s = unwrap(schema);
  const d = defOf(s);
  if (d.type === 'array' && d.element !== undefined && Array.isArray(value)) {
    const element = d.element;
    return value.map((v, i) => checkKeys(v, element, errors, warnings, [...path, i]));
  }
  if (
    d.type !== 'object' ||
    d.shape === undefined ||
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value)
  ) {
    return value;
  }
  const shape = d.shape;
  const known = Object.keys(shape);
  const patternPrefix = formatPath(path.map((p) => (typeof p === 'number' ? -1 : p))).replaceAll('[-1]', '[]');
  const here = (keys: string[]) =>
    keys
      .filter((k) => k.startsWith(patternPrefix === '' ? '' : `${patternPrefix}.`) || patternPrefix === '')
      .map((k) => (patternPrefix === '' ? k : k.slice(patternPrefix.length + 1)))
      .filter((k) => !k.includes('.') && !k.includes('['));
  const dexOnlyHere = here(Object.keys(DEX_ONLY_KEYS));
  const restrictionsHere = here(Object.keys(DEX_RESTRICTION_KEYS));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const keyPath = formatPath([...path, key]);
    if (key in shape) {
      const child = shape[key];
      out[key] = child === undefined ? v : checkKeys(v, child, errors, warnings, [...path, key]);
      continue;
    }
    if (restrictionsHere.includes(key)) {
      const pattern = patternPrefix === '' ? key : `${patternPrefix}.${key}`;
      const rule = DEX_RESTRICTION_KEYS[pattern];
      if (rule && !rule.unless?.(v)) {
        errors.push({ path: keyPath, message: `${RESTRICTION_MESSAGE}: ${rule.why}` });
        continue;
      }
    }
    if (dexOnlyHere.includes(key)) {
      const pattern = patternPrefix === '' ? key : `${patternPrefix}.${key}`;
      warnings.push({ path: keyPath, message: `not supported by Gatehouse and ignored: ${DEX_ONLY_KEYS[pattern]}` });
      continue;
    }
    const sameButCase = known.find((k) => k.toLowerCase() === key.toLowerCase());
    if (sameButCase !== undefined && !(sameButCase in value)) {
      warnings.push({ path: keyPath, message: `read as "${sameButCase}"; spell it "${sameButCase}"` });
      const child = shape[sameButCase];
      out[sameButCase] = child === undefined ? v : checkKeys(v, child, errors, warnings, [...path, sameButCase]);
      continue;
    }
    const suggestion = closest(key, known);
    errors.push({
      path: keyPath,
      message: `unknown key${suggestion === undefined ? '' : `; did you mean "${suggestion}"?`}`,
    });
  }
  return out;
}

/**
 * `checkKeys`, then `schema` over its result: unknown keys and bad values are both reported under
 * `path` (the schema's own "unrecognized key" is dropped when checkKeys already named the key).
 * Returns the key-checked copy and the parsed data, or undefined when either step found a problem.
 */
export function parseChecked<S extends ZodType>(
  value: unknown,
  schema: S,
  errors: ConfigIssue[],
  warnings: ConfigIssue[],
  path: PathPart[],
): { value: unknown; data: output<S> } | undefined {
  const keyErrors: ConfigIssue[] = [];
  const checked = checkKeys(value, schema, keyErrors, warnings, path);
  errors.push(...keyErrors);
  const r = schema.safeParse(checked);
  if (!r.success) {
    for (const issue of r.error.issues) {
      if (issue.code === 'unrecognized_keys' && keyErrors.length > 0) continue;
      errors.push({ path: formatPath([...path, ...(issue.path as PathPart[])]), message: issue.message });
    }
    return undefined;
  }
  return keyErrors.length > 0 ? undefined : { value: checked, data: r.data };
}
