/**
 * Rules that span keys or need the environment, the file system or the connector registry, and
 * the assembly of the final `IssuerConfig`. Each rule reads the raw (expanded) data defensively so
 * it runs even when another value is malformed: every problem is reported in one pass. Messages
 * never quote a secret value (client secrets, password hashes, connector configs).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { STORAGE_TYPES, storageType } from '@gatehouse/storage';
import { ConnectorRegistryError } from '../connectors/registry.ts';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import { BCRYPT_HASH, LOCAL_CONNECTOR_ID } from '../connectors/local.ts';
import { isRecord, parseCIDR, parseDuration } from '@gatehouse/common';
import { redirectURIProblems } from './redirect-uris.ts';
import { checkKeys, closest, formatPath } from './keys.ts';
import type { PathPart } from './keys.ts';
import {
  DEX_ONLY_STORAGE_TYPES,
  GRANT_TYPES,
  RESPONSE_TYPES,
  kubernetesConfig,
  memoryConfig,
  postgresConfig,
  sqliteConfig,
} from './schema.ts';
import type { RawConfig } from './schema.ts';
import type {
  ConfigIssue,
  ConnectorConfig,
  IssuerConfig,
  StaticClient,
  StaticPassword,
  StorageConfig,
} from './types.ts';

export interface RuleContext {
  env: NodeJS.ProcessEnv;
  baseDir: string;
  registry: ConnectorRegistry;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

type Obj = Record<string, unknown>;

function str(o: Obj | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}
function rec(o: Obj | undefined, key: string): Obj | undefined {
  const v = o?.[key];
  return isRecord(v) ? v : undefined;
}
function arr(o: Obj | undefined, key: string): unknown[] {
  const v = o?.[key];
  return Array.isArray(v) ? v : [];
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Everything the rules computed that the zod output does not hold. */
interface Derived {
  storage?: StorageConfig;
  clients: Array<{ id?: string; secret?: string }>;
  passwords: Array<{ hash?: string }>;
  connectorConfigs: unknown[];
  grantTypes: string[];
  responseTypes: string[];
  pkceMethods: Array<'S256' | 'plain'>;
  signingKeys?: number;
  algorithms?: Array<'RS256' | 'ES256' | 'EdDSA'>;
  theme: 'light' | 'dark';
  tlsCert?: string;
  tlsKey?: string;
}

function resolveFile(baseDir: string, file: string): string {
  return file === ':memory:' ? file : path.resolve(baseDir, file);
}

function checkIssuer(data: Obj, ctx: RuleContext): void {
  const issuer = str(data, 'issuer');
  if (issuer === undefined) return;
  const u = URL.parse(issuer);
  if (u?.protocol === 'http:' && !LOOPBACK_HOSTS.has(u.hostname)) {
    ctx.warnings.push({ path: 'issuer', message: 'plain http outside loopback: use https in production' });
  }
  if (issuer.endsWith('/') && u !== null && u.pathname !== '/') {
    ctx.warnings.push({ path: 'issuer', message: 'ends with "/": clients must use exactly this string as the issuer' });
  }
}

function checkStorage(data: Obj, ctx: RuleContext, d: Derived): void {
  const storage = rec(data, 'storage');
  const type = str(storage, 'type');
  if (type === undefined) return;
  const config = rec(storage, 'config') ?? {};
  const push = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) => {
    for (const i of issues) ctx.errors.push({ path: formatPath(['storage', 'config', ...(i.path as PathPart[])]), message: i.message });
  };
  switch (storageType(type)) {
    case 'memory': {
      const r = memoryConfig.safeParse(config);
      if (!r.success) push(r.error.issues);
      else d.storage = { type: 'memory', config: {} };
      ctx.warnings.push({ path: 'storage.type', message: 'memory storage loses every login, token and key on restart: use it for tests only' });
      return;
    }
    case 'sqlite3': {
      const r = sqliteConfig.safeParse(config);
      if (!r.success) push(r.error.issues);
      else d.storage = { type: 'sqlite3', config: { file: resolveFile(ctx.baseDir, r.data.file) } };
      return;
    }
    case 'kubernetes': {
      const r = kubernetesConfig.safeParse(config);
      if (!r.success) {
        push(r.error.issues);
        return;
      }
      if (!r.data.inCluster && r.data.kubeConfigFile === undefined) {
        ctx.errors.push({ path: 'storage.config', message: 'set inCluster: true (running in a pod) or kubeConfigFile' });
        return;
      }
      const k: { inCluster: boolean; kubeConfigFile?: string; namespace?: string } = { inCluster: r.data.inCluster };
      if (r.data.kubeConfigFile !== undefined) k.kubeConfigFile = resolveFile(ctx.baseDir, r.data.kubeConfigFile);
      if (r.data.namespace !== undefined) k.namespace = r.data.namespace;
      d.storage = { type: 'kubernetes', config: k };
      return;
    }
    case 'postgres': {
      // Dex reads these keys case-insensitively: case-only misspellings are read with a warning.
      const keyErrors: ConfigIssue[] = [];
      const checked = checkKeys(config, postgresConfig, keyErrors, ctx.warnings, ['storage', 'config']);
      ctx.errors.push(...keyErrors);
      const r = postgresConfig.safeParse(checked);
      if (!r.success) push(r.error.issues.filter((i) => !(i.code === 'unrecognized_keys' && keyErrors.length > 0)));
      if (!r.success || keyErrors.length > 0) return;
      const { ssl, ...rest } = r.data;
      const files: NonNullable<typeof ssl> = { ...ssl };
      for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
        const file = ssl?.[key];
        if (file === undefined) continue;
        files[key] = resolveFile(ctx.baseDir, file);
        if (!existsSync(files[key])) ctx.errors.push({ path: `storage.config.ssl.${key}`, message: `no file at ${files[key]}` });
      }
      if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
        ctx.errors.push({ path: `storage.config.ssl.${files.certFile === undefined ? 'certFile' : 'keyFile'}`, message: 'certFile and keyFile go together (a client certificate and its key)' });
      }
      d.storage = { type: 'postgres', config: { ...rest, ...(ssl === undefined ? {} : { ssl: files }) } };
      return;
    }
    case undefined:
      if ((DEX_ONLY_STORAGE_TYPES as readonly string[]).includes(type)) {
        ctx.errors.push({
          path: 'storage.type',
          message: `storage type "${type}" is not supported by Gatehouse; use sqlite3 (one file), kubernetes (custom resources) or postgres`,
        });
      } else {
        const s = closest(type, STORAGE_TYPES);
        ctx.errors.push({
          path: 'storage.type',
          message: `unknown storage type "${type}"${s === undefined ? '' : ` (did you mean "${s}"?)`}; use memory, sqlite3, kubernetes or postgres`,
        });
      }
  }
}

function checkWeb(data: Obj, ctx: RuleContext, d: Derived): void {
  const web = rec(data, 'web');
  const https = str(web, 'https');
  if (web?.['http'] === undefined && web?.['https'] === undefined) {
    ctx.errors.push({ path: 'web', message: 'must supply a HTTP/HTTPS address to listen on (web.http or web.https)' });
  }
  const files: Array<'tlsCert' | 'tlsKey'> = ['tlsCert', 'tlsKey'];
  for (const key of files) {
    const value = str(web, key);
    if (https !== undefined && web?.[key] === undefined) {
      ctx.errors.push({
        path: `web.${key}`,
        message: key === 'tlsCert' ? 'no cert specified for HTTPS (required with web.https)' : 'no private key specified for HTTPS (required with web.https)',
      });
    }
    if (value !== undefined) {
      const file = resolveFile(ctx.baseDir, value);
      if (!existsSync(file)) ctx.errors.push({ path: `web.${key}`, message: `file not found: ${file}` });
      d[key] = file;
      if (https === undefined) ctx.warnings.push({ path: `web.${key}`, message: 'ignored: web.https is not set' });
    }
  }
  arr(web, 'trustedProxies').forEach((p, i) => {
    if (typeof p === 'string' && parseCIDR(p) === undefined) {
      ctx.errors.push({ path: `web.trustedProxies[${i}]`, message: 'expected an IP address or CIDR (e.g. "10.0.0.0/8")' });
    }
  });
  arr(web, 'allowedOrigins').forEach((o, i) => {
    if (typeof o !== 'string' || o === '*') return;
    const u = URL.parse(o);
    if (u === null || u.origin === 'null' || u.origin !== o.replace(/\/$/, '')) {
      ctx.errors.push({ path: `web.allowedOrigins[${i}]`, message: 'expected "*" or an origin like "https://app.example.com"' });
    }
  });
}

function checkFrontend(data: Obj, ctx: RuleContext, d: Derived): void {
  const theme = str(rec(data, 'frontend'), 'theme');
  if (theme === undefined || theme === 'light' || theme === 'dark') {
    d.theme = theme === 'dark' ? 'dark' : 'light';
    return;
  }
  ctx.warnings.push({ path: 'frontend.theme', message: `theme "${theme}" is not available (light or dark); using light` });
}

function checkSigner(data: Obj, ctx: RuleContext, d: Derived): void {
  const signer = rec(data, 'signer');
  const type = str(signer, 'type');
  if (type === 'vault') {
    ctx.warnings.push({
      path: 'signer.type',
      message: 'the vault signer is not supported and is ignored: keys are generated, rotated and kept in the storage backend (choose algorithms with signer.algorithms)',
    });
    return;
  }
  if (type !== undefined && type !== 'local') {
    ctx.errors.push({ path: 'signer.type', message: `unknown signer type "${type}"; use local` });
    return;
  }
  const config = rec(signer, 'config');
  if (config === undefined) return;
  for (const [key, value] of Object.entries(config)) {
    const p = `signer.config.${key}`;
    if (key === 'keysRotationPeriod') {
      const seconds = typeof value === 'string' ? parseDuration(value) : undefined;
      if (seconds === undefined || seconds <= 0) ctx.errors.push({ path: p, message: 'expected a duration like "6h"' });
      else d.signingKeys = seconds;
    } else if (key === 'algorithm') {
      if (value === 'RS256' || value === 'ES256') {
        if (signer?.['algorithms'] === undefined) d.algorithms = [value];
        else ctx.warnings.push({ path: p, message: 'ignored: signer.algorithms is set' });
      } else ctx.errors.push({ path: p, message: 'expected RS256 or ES256' });
    } else {
      const s = closest(key, ['keysRotationPeriod', 'algorithm']);
      ctx.errors.push({ path: p, message: `unknown key${s === undefined ? '' : `; did you mean "${s}"?`}` });
    }
  }
}

/** Dex grant types Gatehouse does not offer, with the reason given in the warning. */
const NOT_IMPLEMENTED_GRANTS: Record<string, string> = {
  [GRANT_TYPES.tokenExchange]: 'token exchange is not implemented by Gatehouse',
  [GRANT_TYPES.implicit]: 'Gatehouse offers only the authorization-code flow (implicit puts tokens in the browser\'s URL)',
};

const RESPONSE_TYPE_ORDER = ['code', 'id_token', 'token'];
function canonicalResponseType(s: string): string {
  return s
    .trim()
    .split(/\s+/)
    .sort((a, b) => RESPONSE_TYPE_ORDER.indexOf(a) - RESPONSE_TYPE_ORDER.indexOf(b))
    .join(' ');
}

function checkOAuth2(data: Obj, ctx: RuleContext, d: Derived, connectorIds: Set<string>): void {
  const oauth2 = rec(data, 'oauth2');
  const passwordConnector = str(oauth2, 'passwordConnector');
  const passwordDB = data['enablePasswordDB'] === true;
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
  if (Array.isArray(rawResponse) && rawResponse.length > 0) {
    rawResponse.forEach((t, i) => {
      if (typeof t !== 'string') return;
      const c = canonicalResponseType(t);
      if (c === 'token') {
        ctx.errors.push({ path: `oauth2.responseTypes[${i}]`, message: '"token" cannot be used alone (Dex refuses it too); use code' });
      } else if (!(RESPONSE_TYPES as readonly string[]).includes(c)) {
        ctx.errors.push({ path: `oauth2.responseTypes[${i}]`, message: `unsupported response type "${t}"; use code` });
      } else if (c !== 'code') {
        ctx.warnings.push({
          path: `oauth2.responseTypes[${i}]`,
          message: `"${c}" is ignored: Gatehouse offers only the authorization-code flow (implicit and hybrid flows put tokens in the browser's URL)`,
        });
      }
    });
  }
  // Dex's other response types are accepted for compatibility but never offered.
  d.responseTypes = ['code'];

  const known = Object.values(GRANT_TYPES) as string[];
  const rawGrants = oauth2?.['grantTypes'];
  let grants: string[];
  if (Array.isArray(rawGrants) && rawGrants.length > 0) {
    grants = [];
    rawGrants.forEach((g, i) => {
      if (typeof g !== 'string') return;
      const p = `oauth2.grantTypes[${i}]`;
      if (!known.includes(g)) {
        const s = closest(g, known);
        ctx.errors.push({ path: p, message: `unknown grant type "${g}"${s === undefined ? '' : ` (did you mean "${s}"?)`}` });
      } else if (NOT_IMPLEMENTED_GRANTS[g] !== undefined) {
        ctx.warnings.push({ path: p, message: `ignored: ${NOT_IMPLEMENTED_GRANTS[g]}` });
      } else if (g === GRANT_TYPES.password && passwordConnector === undefined) {
        ctx.warnings.push({ path: p, message: 'the password grant needs oauth2.passwordConnector; it stays off' });
      } else if (!grants.includes(g)) grants.push(g);
    });
  } else {
    // Dex's default list, limited to what Gatehouse implements and the config makes possible.
    grants = [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken, GRANT_TYPES.deviceCode];
    if (passwordConnector !== undefined) grants.push(GRANT_TYPES.password);
  }
  d.grantTypes = grants;

  const rawMethods = rec(oauth2, 'pkce')?.['codeChallengeMethodsSupported'];
  const methods: Array<'S256' | 'plain'> = [];
  if (Array.isArray(rawMethods)) {
    rawMethods.forEach((m, i) => {
      const p = `oauth2.pkce.codeChallengeMethodsSupported[${i}]`;
      if (m === 'S256') methods.push('S256');
      else if (m === 'plain') ctx.warnings.push({ path: p, message: '"plain" is not supported (the OIDC engine implements S256 only) and is ignored' });
      else if (typeof m === 'string') ctx.errors.push({ path: p, message: `unsupported PKCE challenge method "${m}"; use S256` });
    });
    if (methods.length === 0 && rawMethods.length > 0) {
      ctx.errors.push({ path: 'oauth2.pkce.codeChallengeMethodsSupported', message: 'must include S256' });
    }
  }
  d.pkceMethods = methods.length > 0 ? methods : ['S256'];
}

function envValue(ctx: RuleContext, name: string, p: string): string | undefined {
  const v = ctx.env[name];
  if (v === undefined || v === '') {
    ctx.errors.push({ path: p, message: `environment variable ${name} is not set` });
    return undefined;
  }
  return v;
}

function checkClients(data: Obj, ctx: RuleContext, d: Derived): void {
  const seen = new Map<string, number>();
  const clients = arr(data, 'staticClients');
  clients.forEach((c, i) => {
    const out: { id?: string; secret?: string } = {};
    d.clients[i] = out;
    if (!isRecord(c)) return;
    const base = `staticClients[${i}]`;
    const hasId = c['id'] !== undefined;
    const hasIdEnv = c['idEnv'] !== undefined;
    if (hasId && hasIdEnv) ctx.errors.push({ path: `${base}.idEnv`, message: 'id and idEnv are exclusive' });
    else if (!hasId && !hasIdEnv) ctx.errors.push({ path: `${base}.id`, message: 'id or idEnv is required' });
    else if (hasId) out.id = str(c, 'id');
    else {
      const name = str(c, 'idEnv');
      if (name !== undefined) {
        out.id = envValue(ctx, name, `${base}.idEnv`);
        if (out.id !== undefined && !/^[\x21-\x7e]+$/.test(out.id)) {
          ctx.errors.push({ path: `${base}.idEnv`, message: `${name} must be printable ASCII without spaces` });
        }
      }
    }

    const isPublic = c['public'] === true;
    const hasSecret = c['secret'] !== undefined;
    const hasSecretEnv = c['secretEnv'] !== undefined;
    if (hasSecret && hasSecretEnv) ctx.errors.push({ path: `${base}.secretEnv`, message: 'secret and secretEnv are exclusive' });
    else if (!hasSecret && !hasSecretEnv) {
      if (!isPublic) ctx.errors.push({ path: `${base}.secret`, message: 'secret or secretEnv is required (unless public: true)' });
    } else if (hasSecret) out.secret = str(c, 'secret');
    else {
      const name = str(c, 'secretEnv');
      if (name !== undefined) out.secret = envValue(ctx, name, `${base}.secretEnv`);
    }
    if (out.secret !== undefined && out.secret.length < 16 && !isPublic) {
      ctx.warnings.push({ path: `${base}.${hasSecret ? 'secret' : 'secretEnv'}`, message: 'a client secret shorter than 16 characters is easy to guess' });
    }

    if (out.id !== undefined) {
      const first = seen.get(out.id);
      if (first !== undefined) ctx.errors.push({ path: `${base}.id`, message: `duplicate client id (also staticClients[${first}])` });
      else seen.set(out.id, i);
    }
    arr(c, 'redirectURIs').forEach((u, j) => {
      if (typeof u === 'string' && u.startsWith('/')) {
        ctx.warnings.push({
          path: `${base}.redirectURIs[${j}]`,
          message: 'ignored: a path is Dex\'s device-flow callback; Gatehouse\'s device flow (RFC 8628) needs no redirect URI',
        });
      }
    });
    // Scheme rules (config/redirect-uris.ts) for what the schema accepted as a URI (it reports
    // the rest); path-only entries were warned about above.
    const uris = (key: string) =>
      arr(c, key)
        .map((u, j) => [j, u] as const)
        .filter((e): e is readonly [number, string] => typeof e[1] === 'string' && !e[1].startsWith('/') && !e[1].includes('#') && URL.parse(e[1]) !== null);
    const redirects = uris('redirectURIs');
    const logouts = uris('postLogoutRedirectURIs');
    for (const p of redirectURIProblems({ public: isPublic, redirectURIs: redirects.map((e) => e[1]), postLogoutRedirectURIs: logouts.map((e) => e[1]) })) {
      const index = (p.field === 'redirectURIs' ? redirects : logouts)[p.index]?.[0] ?? p.index;
      ctx.errors.push({ path: `${base}.${p.field}[${index}]`, message: p.message });
    }
    if (arr(c, 'redirectURIs').length === 0 && !isPublic) {
      ctx.warnings.push({ path: `${base}.redirectURIs`, message: 'no redirect URIs: this client cannot use the authorization-code flow' });
    }
  });
  const connectorIds = new Set(arr(data, 'connectors').map((c) => (isRecord(c) ? c['id'] : undefined)));
  if (data['enablePasswordDB'] === true) connectorIds.add('local');
  clients.forEach((c, i) => {
    if (!isRecord(c)) return;
    arr(c, 'allowedConnectors').forEach((id, j) => {
      if (typeof id === 'string' && !connectorIds.has(id)) {
        ctx.warnings.push({ path: `staticClients[${i}].allowedConnectors[${j}]`, message: `no connector with id "${id}" in this file (it may be managed in storage)` });
      }
    });
    arr(c, 'trustedPeers').forEach((peer, j) => {
      if (typeof peer === 'string' && !seen.has(peer)) {
        ctx.warnings.push({ path: `staticClients[${i}].trustedPeers[${j}]`, message: `no static client with id "${peer}" (it may be managed in storage)` });
      }
    });
  });
}

/** Dex accepts a bcrypt hash or its base64 encoding (legacy). */
function normaliseHash(value: string): string | undefined {
  if (value.startsWith('$2')) return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return decoded.startsWith('$2') ? decoded : undefined;
}

function checkPasswords(data: Obj, ctx: RuleContext, d: Derived): void {
  const list = arr(data, 'staticPasswords');
  if (list.length > 0 && data['enablePasswordDB'] !== true) {
    ctx.errors.push({ path: 'staticPasswords', message: 'cannot specify static passwords without enabling the password DB (enablePasswordDB: true)' });
  }
  const seen = new Map<string, number>();
  list.forEach((p, i) => {
    const out: { hash?: string } = {};
    d.passwords[i] = out;
    if (!isRecord(p)) return;
    const base = `staticPasswords[${i}]`;
    const hasHash = p['hash'] !== undefined;
    const hasEnv = p['hashFromEnv'] !== undefined;
    let raw: string | undefined;
    let where = `${base}.hash`;
    if (hasHash && hasEnv) ctx.errors.push({ path: `${base}.hashFromEnv`, message: 'hash and hashFromEnv are exclusive' });
    else if (!hasHash && !hasEnv) ctx.errors.push({ path: `${base}.hash`, message: 'hash or hashFromEnv is required' });
    else if (hasHash) raw = str(p, 'hash');
    else {
      where = `${base}.hashFromEnv`;
      const name = str(p, 'hashFromEnv');
      if (name !== undefined) raw = envValue(ctx, name, where);
    }
    if (raw !== undefined) {
      const hash = normaliseHash(raw);
      const cost = hash === undefined ? undefined : /^\$2[abxy]\$([0-9]{2})\$/.exec(hash)?.[1];
      if (hash === undefined || cost === undefined || !/^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$/.test(hash)) {
        ctx.errors.push({ path: where, message: 'not a bcrypt hash (generate one with `htpasswd -bnBC 10 "" PASSWORD | tr -d \':\\n\'`)' });
      } else if (!BCRYPT_HASH.test(hash)) {
        ctx.errors.push({ path: where, message: `bcrypt cost ${Number(cost)} is outside the accepted range 10..16` });
      } else out.hash = hash;
    }
    const email = str(p, 'email')?.toLowerCase();
    if (email !== undefined) {
      const first = seen.get(email);
      if (first !== undefined) ctx.errors.push({ path: `${base}.email`, message: `duplicate email (also staticPasswords[${first}])` });
      else seen.set(email, i);
    }
  });
}

function checkExpiry(data: Obj, ctx: RuleContext): void {
  const refresh = rec(rec(data, 'expiry'), 'refreshTokens');
  const abs = str(refresh, 'absoluteLifetime');
  const idle = str(refresh, 'validIfNotUsedFor');
  const a = abs === undefined ? undefined : parseDuration(abs);
  const i = idle === undefined ? undefined : parseDuration(idle);
  if (a !== undefined && i !== undefined && i > a) {
    ctx.warnings.push({ path: 'expiry.refreshTokens.validIfNotUsedFor', message: 'longer than absoluteLifetime, so it never applies' });
  }
}

async function checkConnectors(data: Obj, ctx: RuleContext, d: Derived): Promise<Set<string>> {
  const ids = new Set<string>();
  const passwordDB = data['enablePasswordDB'] === true;
  const list = arr(data, 'connectors');
  const firstIndex = new Map<string, number>();
  await Promise.all(
    list.map(async (c, i) => {
      if (!isRecord(c)) return;
      const base = `connectors[${i}]`;
      const id = str(c, 'id');
      if (id !== undefined) {
        const first = firstIndex.get(id);
        if (first !== undefined) ctx.errors.push({ path: `${base}.id`, message: `duplicate connector id (also connectors[${first}])` });
        else firstIndex.set(id, i);
        if (id === LOCAL_CONNECTOR_ID && passwordDB) {
          ctx.errors.push({ path: `${base}.id`, message: '"local" is the password DB\'s id (enablePasswordDB: true); choose another' });
        }
        ids.add(id);
      }
      const type = str(c, 'type');
      if (type === undefined || type === '') return;
      if (type === 'local') {
        ctx.errors.push({ path: `${base}.type`, message: 'the "local" connector is added by enablePasswordDB: true; do not list it' });
        return;
      }
      let factory;
      try {
        factory = await ctx.registry.resolve(type);
      } catch (e) {
        const message = e instanceof ConnectorRegistryError ? e.message : `cannot load connector type "${type}": ${(e as Error).message}`;
        ctx.errors.push({ path: `${base}.type`, message });
        return;
      }
      // Unknown keys get the same treatment as in the rest of the file (closest known key suggested,
      // case-only misspellings read with a warning); the schema then checks values.
      const keyErrors: ConfigIssue[] = [];
      const config = checkKeys(c['config'] ?? {}, factory.configSchema, keyErrors, ctx.warnings, ['connectors', i, 'config']);
      ctx.errors.push(...keyErrors);
      const parsed = factory.configSchema.safeParse(config);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          if (issue.code === 'unrecognized_keys' && keyErrors.length > 0) continue;
          ctx.errors.push({ path: formatPath([base, 'config', ...(issue.path as PathPart[])]), message: issue.message });
        }
        return;
      }
      if (keyErrors.length > 0) return;
      d.connectorConfigs[i] = config;
      let extra: string[] = [];
      try {
        extra = factory.warnings?.(parsed.data) ?? [];
      } catch (e) {
        ctx.errors.push({ path: `${base}.config`, message: `connector check failed: ${(e as Error).message}` });
      }
      for (const w of extra) ctx.warnings.push({ path: `${base}.config`, message: w });
    }),
  );
  if (passwordDB) ids.add(LOCAL_CONNECTOR_ID);
  if (list.length === 0 && !passwordDB) {
    ctx.errors.push({ path: 'connectors', message: 'no connectors: add one, or set enablePasswordDB: true' });
  }
  return ids;
}

/**
 * Runs every rule over `data` (the raw config after key checks and `$VAR` expansion) and, when
 * `parsed` is available and no rule failed, assembles the `IssuerConfig`.
 */
export async function checkRules(
  data: Obj,
  parsed: RawConfig | undefined,
  ctx: RuleContext,
): Promise<IssuerConfig | undefined> {
  const d: Derived = {
    clients: [],
    passwords: [],
    connectorConfigs: [],
    grantTypes: [],
    responseTypes: [],
    pkceMethods: ['S256'],
    theme: 'light',
  };
  checkIssuer(data, ctx);
  checkStorage(data, ctx, d);
  checkWeb(data, ctx, d);
  checkFrontend(data, ctx, d);
  checkSigner(data, ctx, d);
  checkExpiry(data, ctx);
  checkClients(data, ctx, d);
  checkPasswords(data, ctx, d);
  const connectorIds = await checkConnectors(data, ctx, d);
  checkOAuth2(data, ctx, d, connectorIds);

  if (parsed === undefined || ctx.errors.length > 0 || d.storage === undefined) return undefined;
  return assemble(parsed, d);
}

function assemble(p: RawConfig, d: Derived): IssuerConfig {
  const staticPasswords: StaticPassword[] = p.staticPasswords.map((s, i) => {
    const out: StaticPassword = {
      email: s.email.toLowerCase(),
      hash: d.passwords[i]?.hash ?? '',
      username: s.username ?? s.email,
      userID: s.userID,
      emailVerified: s.emailVerified,
      groups: s.groups,
    };
    if (s.name !== undefined) out.name = s.name;
    if (s.preferredUsername !== undefined) out.preferredUsername = s.preferredUsername;
    return out;
  });

  const staticClients: StaticClient[] = p.staticClients.map((c, i) => {
    const id = d.clients[i]?.id ?? '';
    const out: StaticClient = {
      id,
      redirectURIs: c.redirectURIs.filter((u) => !u.startsWith('/')),
      postLogoutRedirectURIs: c.postLogoutRedirectURIs,
      trustedPeers: c.trustedPeers,
      public: c.public,
      name: c.name ?? id,
    };
    const secret = d.clients[i]?.secret;
    if (secret !== undefined) out.secret = secret;
    if (c.logoURL !== undefined) out.logoURL = c.logoURL;
    if (c.allowedConnectors !== undefined && c.allowedConnectors.length > 0) out.allowedConnectors = [...c.allowedConnectors];
    return out;
  });

  const connectors: ConnectorConfig[] = p.connectors.map((c, i) => ({
    type: c.type,
    id: c.id,
    name: c.name,
    config: d.connectorConfigs[i] ?? {},
  }));
  // With enablePasswordDB the issuer opens the password DB itself, as connector `local` with
  // `config: { staticPasswords }` (see connectors/local.ts); it is not listed here.

  const web: IssuerConfig['web'] = {
    headers: p.web.headers,
    allowedOrigins: p.web.allowedOrigins,
    trustedProxies: p.web.trustedProxies,
  };
  if (p.web.http !== undefined) web.http = p.web.http;
  if (p.web.https !== undefined) web.https = p.web.https;
  if (d.tlsCert !== undefined) web.tlsCert = d.tlsCert;
  if (d.tlsKey !== undefined) web.tlsKey = d.tlsKey;

  const frontend: IssuerConfig['frontend'] = { issuer: p.frontend.issuer, theme: d.theme, extra: p.frontend.extra };
  if (p.frontend.logoURL !== undefined) frontend.logoURL = p.frontend.logoURL;
  if (p.frontend.colors !== undefined) {
    const colors: NonNullable<IssuerConfig['frontend']['colors']> = {};
    if (p.frontend.colors.primary !== undefined) colors.primary = p.frontend.colors.primary;
    if (p.frontend.colors.background !== undefined) colors.background = p.frontend.colors.background;
    if (p.frontend.colors.text !== undefined) colors.text = p.frontend.colors.text;
    frontend.colors = colors;
  }

  const oauth2: IssuerConfig['oauth2'] = {
    grantTypes: d.grantTypes,
    responseTypes: d.responseTypes,
    skipApprovalScreen: p.oauth2.skipApprovalScreen,
    alwaysShowLoginScreen: p.oauth2.alwaysShowLoginScreen,
    pkce: { enforce: p.oauth2.pkce.enforce, codeChallengeMethodsSupported: d.pkceMethods },
  };
  if (p.oauth2.passwordConnector !== undefined) oauth2.passwordConnector = p.oauth2.passwordConnector;

  const telemetry: IssuerConfig['telemetry'] = {};
  if (p.telemetry.http !== undefined) telemetry.http = p.telemetry.http;

  return {
    issuer: p.issuer,
    storage: d.storage as StorageConfig,
    web,
    telemetry,
    frontend,
    expiry: {
      signingKeys: d.signingKeys ?? p.expiry.signingKeys,
      idTokens: p.expiry.idTokens,
      authRequests: p.expiry.authRequests,
      deviceRequests: p.expiry.deviceRequests,
      authCodes: p.expiry.authCodes,
      refreshTokens: { ...p.expiry.refreshTokens },
    },
    oauth2,
    signer: { algorithms: p.signer.algorithms ?? d.algorithms ?? ['RS256'] },
    staticClients,
    connectors,
    enablePasswordDB: p.enablePasswordDB,
    staticPasswords,
    logger: { level: p.logger.level as IssuerConfig['logger']['level'], format: p.logger.format },
  };
}
