/**
 * One supervised server child (slapd, redis-server, postgres) that can be stopped and started again: tracks
 * the running child, resolves `exited` on 'exit' or 'error' (a failed spawn never emits 'exit'), and
 * SIGKILLs it if the test runner exits first. Readiness, arguments and data stay with each launcher.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface StopSignals {
  /** Sent in order to ask the server to leave. */
  request: readonly NodeJS.Signals[];
  /** Sent when it is still running after `graceMs`. */
  force: NodeJS.Signals;
  graceMs: number;
}

/** SIGCONT first: a frozen (SIGSTOPped) server cannot handle SIGTERM. */
export const TERMINATE: StopSignals = { request: ['SIGCONT', 'SIGTERM'], force: 'SIGKILL', graceMs: 10_000 };

export class ServerProcess {
  readonly #name: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #killOnExit = (): void => {
    this.#child?.kill('SIGKILL');
  };

  /** `name` appears in errors ("<name> is already running"). */
  constructor(name: string) {
    this.#name = name;
  }

  /** Resolves when the current (or last) child has gone; already resolved before the first `spawn()`. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** Spawns the server; throws when a previous child is still running. */
  spawn(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    if (this.#child) throw new Error(`${this.#name} is already running`);
    const proc = spawn(file, args, options);
    this.#child = proc;
    this.#exited = new Promise((resolve) => {
      const gone = (): void => {
        if (this.#child === proc) this.#child = undefined;
        resolve();
      };
      proc.once('exit', gone);
      proc.once('error', gone); // a failed spawn never emits 'exit'
    });
    process.once('exit', this.#killOnExit);
    return proc;
  }

  /** Sends `signal` to the running child, if any (SIGSTOP/SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  /** SIGKILLs the running child (if any) and waits until it has gone: clean-up after a failed start. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** Stops the running child (if any) with `signals` and waits until it has gone. */
  async stop(signals: StopSignals = TERMINATE): Promise<void> {
    const proc = this.#child;
    if (!proc) return;
    for (const signal of signals.request) proc.kill(signal);
    const timer = setTimeout(() => proc.kill(signals.force), signals.graceMs);
    await this.#exited;
    clearTimeout(timer);
    process.removeListener('exit', this.#killOnExit);
  }
}
