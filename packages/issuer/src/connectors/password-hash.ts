/**
 * bcrypt verification off the event loop, on every core: `@node-rs/bcrypt` (prebuilt native code) runs each
 * comparison in a pool of worker threads, one per core, each at a lower scheduling priority than the event loop
 * (`bcrypt-worker.ts`). So password logins use all cores, and while a login storm runs the other requests of the
 * process keep their latency (bcryptjs computed every hash on the event loop).
 *
 * Why not the binding's async `verify` on the libuv pool: the same throughput, but its threads compete with the
 * event loop at equal priority (refresh p99 ×3–4 during 32 logins in flight on 2 cores, against ×1–2 here), and
 * a queue of hashes there delays fs, dns.lookup and zlib work, which share that pool's UV_THREADPOOL_SIZE threads.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { VerifyDone, VerifyJob } from './bcrypt-worker.ts';

/** The bcrypt hashes Dex accepts: `$2a$`, `$2b$`, `$2x$`, `$2y$`, cost 10..16, 22+31 base64 chars. */
export const BCRYPT_HASH = /^\$2[abxy]\$(1[0-6])\$[./A-Za-z0-9]{53}$/;

export type PasswordCheck =
  | { ok: true; match: boolean }
  /** The stored hash is not one Dex would accept: nothing was compared. */
  | { ok: false; code: 'malformed_hash' };

/** Nice value of the pool's threads: the event loop (0) gets ~10× their CPU share when both want it. */
export const BCRYPT_NICE = 10;

interface Pending {
  job: VerifyJob;
  resolve: (match: boolean) => void;
  reject: (e: Error) => void;
}

/** A fixed set of worker threads taking jobs from one queue; a thread that dies fails its job and is replaced. */
export class BcryptPool {
  readonly size: number;
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private started = 0;
  private nextId = 0;

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, password, hash }, resolve, reject });
      this.dispatch();
    });
  }

  /** Threads are started on demand and unref'd: an idle pool never keeps the process alive. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.spawn() : undefined);
      if (worker === undefined) return;
      const next = this.queue.shift()!;
      this.busy.set(worker, next);
      worker.ref();
      worker.postMessage(next.job);
    }
  }

  private spawn(): Worker {
    this.started += 1;
    const worker = new Worker(new URL('./bcrypt-worker.ts', import.meta.url), { workerData: { nice: BCRYPT_NICE } });
    worker.unref();
    worker.on('message', (done: VerifyDone) => {
      const p = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (p !== undefined) {
        if ('error' in done) p.reject(new Error(done.error));
        else p.resolve(done.match);
      }
      this.dispatch();
    });
    const lost = (e: Error) => {
      const p = this.busy.get(worker);
      this.busy.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      this.started -= 1;
      p?.reject(e);
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`bcrypt worker exited with code ${code}`)));
    return worker;
  }
}

const pool = new BcryptPool();

/**
 * Compares `password` (its UTF-8 bytes, the first 72 as bcrypt defines) with `hash` as Go's
 * `bcrypt.CompareHashAndPassword` does for Dex. A hash Dex would refuse is reported, not compared:
 * an out-of-range cost (31 is 2^31 rounds) would hold a thread for hours.
 */
export async function verifyPassword(password: string, hash: string, using: BcryptPool = pool): Promise<PasswordCheck> {
  if (!BCRYPT_HASH.test(hash)) return { ok: false, code: 'malformed_hash' };
  try {
    return { ok: true, match: await using.verify(password, hash) };
  } catch {
    // The binding refuses what it cannot parse; the regex above should have caught it already.
    return { ok: false, code: 'malformed_hash' };
  }
}
