// Runs every bench/*.bench.ts in turn (or those named on the command line) with the same Node.
// Each prints its own figures next to a baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preflightOrExit } from '@gatehouse/testkit/preflight';

// The benches start nginx, kube-apiserver and wrk: all there (or installed now), or stop here with the command.
await preflightOrExit({ usedBy: ['test', 'bench'] });

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: 'inherit', cwd: here });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
