/**
 * bcrypt verification off the event loop: `@node-rs/bcrypt` (prebuilt native code) runs each
 * comparison on the libuv thread pool, so password logins use every core and a login storm does
 * not stall the other requests of the process (bcryptjs computed the hash on the event loop).
 *
 * The pool is shared with fs, dns.lookup and zlib, and has UV_THREADPOOL_SIZE threads (4 unless
 * set). At most one thread fewer than that runs bcrypt at a time, so a burst of logins never
 * leaves outbound calls (an upstream's DNS lookup) waiting behind a queue of hashes. On a machine
 * with more cores than 4, set UV_THREADPOOL_SIZE to the core count + 1 to use them all.
 */
import { availableParallelism } from 'node:os';
import { verify } from '@node-rs/bcrypt';

/** The bcrypt hashes Dex accepts: `$2a$`, `$2b$`, `$2x$`, `$2y$`, cost 10..16, 22+31 base64 chars. */
export const BCRYPT_HASH = /^\$2[abxy]\$(1[0-6])\$[./A-Za-z0-9]{53}$/;

export type PasswordCheck =
  | { ok: true; match: boolean }
  /** The stored hash is not one Dex would accept: nothing was compared. */
  | { ok: false; code: 'malformed_hash' };

/** Threads of the libuv pool: UV_THREADPOOL_SIZE as libuv reads it (default 4, at most 1024). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env['UV_THREADPOOL_SIZE'] ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** Comparisons allowed at once: all cores, but one pool thread always left for other work. */
export function bcryptConcurrency(pool = threadPoolSize(), cores = availableParallelism()): number {
  return Math.max(1, Math.min(pool - 1, Math.max(cores, 1)));
}

const limit = bcryptConcurrency();
let running = 0;
const waiting: Array<() => void> = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
  else running += 1;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    // The slot passes straight to the next waiter, so `running` stays counted.
    if (next !== undefined) next();
    else running -= 1;
  }
}

/**
 * Compares `password` (its UTF-8 bytes, the first 72 as bcrypt defines) with `hash` as Go's
 * `bcrypt.CompareHashAndPassword` does for Dex. A hash Dex would refuse is reported, not compared:
 * an out-of-range cost (31 is 2^31 rounds) would hold a pool thread for hours.
 */
export async function verifyPassword(password: string, hash: string): Promise<PasswordCheck> {
  if (!BCRYPT_HASH.test(hash)) return { ok: false, code: 'malformed_hash' };
  try {
    return { ok: true, match: await slot(() => verify(password, hash)) };
  } catch {
    // The binding refuses what it cannot parse; the regex above should have caught it already.
    return { ok: false, code: 'malformed_hash' };
  }
}
