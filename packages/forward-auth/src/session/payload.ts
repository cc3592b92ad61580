// The session and its compact encrypted form.
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export interface Session {
  /** `sub` of the id_token. */
  readonly user: string;
  readonly email?: string;
  readonly preferredUsername?: string;
  readonly groups: readonly string[];
  /** When the session was issued or last refreshed (ms since epoch): the base of `cookie_refresh`. */
  readonly createdAt: number;
  /** When the session ends (ms since epoch), whatever the cookie's Max-Age says. */
  readonly expiresAt: number;
  readonly idToken?: string;
  readonly accessToken?: string;
  readonly refreshToken?: string;
  /** The Domain attribute the cookie was set with, so a refresh or a clear writes the same cookie. */
  readonly cookieDomain?: string;
  /** Random id of the login, kept by every refresh: what a sign-out revokes (absent in cookies of older versions). */
  readonly sid?: string;
  /** When the login happened (ms), kept by every refresh. */
  readonly loginAt?: number;
}

// Short keys keep the cookie small: c created (s), e expires (s), u user, m email, p preferred username,
// g groups, i id_token, a access token, r refresh token, d cookie domain, s session id, l login time (ms: compared with the fold watermark).
interface Wire {
  v: 1;
  c: number;
  e: number;
  u: string;
  m?: string;
  p?: string;
  g?: string[];
  i?: string;
  a?: string;
  r?: string;
  d?: string;
  s?: string;
  l?: number;
}

export function encodeSession(s: Session): Buffer {
  const w: Wire = { v: 1, c: Math.floor(s.createdAt / 1000), e: Math.floor(s.expiresAt / 1000), u: s.user };
  if (s.email !== undefined) w.m = s.email;
  if (s.preferredUsername !== undefined) w.p = s.preferredUsername;
  if (s.groups.length > 0) w.g = [...s.groups];
  if (s.idToken !== undefined) w.i = s.idToken;
  if (s.accessToken !== undefined) w.a = s.accessToken;
  if (s.refreshToken !== undefined) w.r = s.refreshToken;
  if (s.cookieDomain !== undefined) w.d = s.cookieDomain;
  if (s.sid !== undefined) w.s = s.sid;
  if (s.loginAt !== undefined) w.l = s.loginAt;
  return Buffer.from(JSON.stringify(w), 'utf8');
}

const optString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

/** The session, or undefined for anything that is not a well-formed v1 payload. */
export function decodeSession(bytes: Buffer): Session | undefined {
  let w: Partial<Wire>;
  try {
    w = JSON.parse(bytes.toString('utf8')) as Partial<Wire>;
  } catch {
    return undefined;
  }
  if (typeof w !== 'object' || w === null || w.v !== 1) return undefined;
  if (typeof w.c !== 'number' || typeof w.e !== 'number' || typeof w.u !== 'string') return undefined;
  if (
    !optString(w.m) ||
    !optString(w.p) ||
    !optString(w.i) ||
    !optString(w.a) ||
    !optString(w.r) ||
    !optString(w.d) ||
    !optString(w.s)
  )
    return undefined;
  if (w.l !== undefined && typeof w.l !== 'number') return undefined;
  if (w.g !== undefined && !(Array.isArray(w.g) && w.g.every((g) => typeof g === 'string'))) return undefined;
  return {
    user: w.u,
    groups: w.g ?? [],
    createdAt: w.c * 1000,
    expiresAt: w.e * 1000,
    ...(w.m === undefined ? {} : { email: w.m }),
    ...(w.p === undefined ? {} : { preferredUsername: w.p }),
    ...(w.i === undefined ? {} : { idToken: w.i }),
    ...(w.a === undefined ? {} : { accessToken: w.a }),
    ...(w.r === undefined ? {} : { refreshToken: w.r }),
    ...(w.d === undefined ? {} : { cookieDomain: w.d }),
    ...(w.s === undefined ? {} : { sid: w.s }),
    ...(w.l === undefined ? {} : { loginAt: w.l }),
  };
}

/** First byte of a deflated payload; a plain one is JSON and starts with `{`. */
const DEFLATED = 0x01;
/** A session never inflates beyond this (it is authenticated before it is inflated; this bounds our own bugs). */
const MAX_INFLATED = 256 * 1024;

/**
 * The bytes sealed into the cookie: the JSON deflated when that is shorter. Group lists compress well, and nginx
 * passes only one Set-Cookie of an auth subrequest, so a session that stays in one cookie can be refreshed there.
 */
export function packSession(s: Session): Buffer {
  const json = encodeSession(s);
  const deflated = deflateRawSync(json, { level: 9 });
  return deflated.length + 1 < json.length ? Buffer.concat([Buffer.of(DEFLATED), deflated]) : json;
}

export function unpackSession(bytes: Buffer): Session | undefined {
  if (bytes[0] !== DEFLATED) return decodeSession(bytes);
  try {
    return decodeSession(inflateRawSync(bytes.subarray(1), { maxOutputLength: MAX_INFLATED }));
  } catch {
    return undefined;
  }
}
