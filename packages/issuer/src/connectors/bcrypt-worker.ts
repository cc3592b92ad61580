/**
 * One thread of the bcrypt pool (`password-hash.ts`). It lowers its own scheduling priority first: on Linux the
 * nice value is per thread, so the issuer's event loop (nice 0) always runs before a queued hash and a login storm
 * does not slow the other requests; the hashes take whatever CPU is left, all of it when the process is idle.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { verifySync } from '@node-rs/bcrypt';

export interface VerifyJob {
  id: number;
  password: string;
  hash: string;
}
export type VerifyDone = { id: number; match: boolean } | { id: number; error: string };

try {
  setPriority(0, (workerData as { nice: number }).nice);
} catch {
  // Not permitted (some sandboxes): the pool still works, at the event loop's priority.
}

parentPort?.on('message', (job: VerifyJob) => {
  let done: VerifyDone;
  try {
    done = { id: job.id, match: verifySync(job.password, job.hash) };
  } catch (e) {
    done = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(done);
});
