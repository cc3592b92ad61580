import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ServerProcess, TERMINATE } from './server-process.ts';

const exitListeners = (): number => process.listenerCount('exit');

/** A shell that leaves cleanly on SIGTERM, but only once it runs its trap (so not while SIGSTOPped). */
async function spawnTrapping(server: ServerProcess): Promise<ChildProcess> {
  const proc = server.spawn('sh', ['-c', "trap 'kill $!; exit 0' TERM; echo ready; sleep 30 & wait"], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise((resolve) => proc.stdout?.once('data', resolve)); // the trap is installed
  return proc;
}

describe('ServerProcess', () => {
  it('stops a frozen child with SIGCONT + SIGTERM, removes its exit hook, and can start again', async () => {
    const server = new ServerProcess('sleeper');
    const before = exitListeners();
    const first = await spawnTrapping(server);
    expect(exitListeners()).toBe(before + 1);
    expect(() => server.spawn('sleep', ['30'], { stdio: 'ignore' })).toThrow('sleeper is already running');
    server.signal('SIGSTOP');
    const started = Date.now();
    await server.stop();
    // Its own TERM handler ran (not a SIGKILL after the 10 s grace): the SIGCONT woke it up.
    expect(first.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(exitListeners()).toBe(before);
    const second = await spawnTrapping(server);
    await server.stop(TERMINATE);
    expect(second.exitCode).toBe(0);
    await server.stop(); // nothing running: a no-op
  });

  it('escalates to the force signal when the child ignores the request', async () => {
    const server = new ServerProcess('stubborn');
    const proc = server.spawn('sh', ['-c', 'trap "" TERM; echo ready; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((resolve) => proc.stdout?.once('data', resolve)); // the trap is installed
    const started = Date.now();
    await server.stop({ request: ['SIGTERM'], force: 'SIGKILL', graceMs: 300 });
    expect(proc.signalCode).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('a failed spawn resolves exited (no exit event ever comes) and leaves it free to spawn again', async () => {
    const server = new ServerProcess('missing');
    const proc = server.spawn('/nonexistent/gatehouse-server', [], { stdio: 'ignore' });
    const error = new Promise<Error>((resolve) => proc.once('error', resolve));
    await server.exited;
    expect((await error).message).toContain('ENOENT');
    const again = server.spawn('sleep', ['30'], { stdio: 'ignore' });
    await server.kill();
    expect(again.signalCode).toBe('SIGKILL');
  });
});
