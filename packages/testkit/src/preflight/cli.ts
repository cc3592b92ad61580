/**
 * The preflight as a command (`.ci/run`, or by hand):
 *   ./pnpmw exec node packages/testkit/src/preflight/cli.ts [--bench]
 * Installs what is missing when it may; exit 0 when every program is there, 1 with the message otherwise.
 * `--bench` also checks what `./pnpmw bench` needs (wrk).
 */
import { preflight } from './index.ts';

const usedBy: Array<'test' | 'bench'> = process.argv.includes('--bench') ? ['test', 'bench'] : ['test'];
const result = await preflight({ usedBy });
if (result.status === 'missing') {
  process.stderr.write(`${result.message}\n`);
  process.exit(1);
}
const installed = result.installed.length > 0 ? `; installed ${result.installed.join(' ')}` : '';
console.log(`gatehouse preflight: every program the suites run is installed (${result.ms.toFixed(0)} ms${installed})`);
