// Runs every bench/*.bench.ts in turn (or those named on the command line) with the same Node.
// Each prints its own figures next to a baseline measured in the same run and reports them (bench/report.ts);
// at the end one table of them all is printed and saved as bench/results/<date>.json (bench/results.ts).
//   ./pnpmw bench [names...] [--compare]   --compare: also the ratio of each figure to the previous result file's
import { mkdtempSync, rmSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preflightOrExit } from '@gatehouse/testkit/preflight';
import { REPORT_ENV } from './report.ts';
import { collect, previous, save, table } from './results.ts';

// The benches start nginx, kube-apiserver and wrk: all there (or installed now), or stop here with the command.
await preflightOrExit({ usedBy: ['test', 'bench'] });

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const compare = args.includes('--compare');
const wanted = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-bench-report-'));
const reportFile = join(scratch, 'figures.jsonl');
let failed = 0;
try {
  for (const f of files) {
    console.log(`\n=== ${f} ===`);
    const r = spawnSync(process.execPath, [join(here, f)], {
      stdio: 'inherit',
      cwd: here,
      env: { ...process.env, [REPORT_ENV]: reportFile },
    });
    if (r.status !== 0) failed++;
  }
  const run = collect(reportFile, wanted);
  const dir = join(here, 'results');
  const file = save(dir, run);
  const before = compare ? previous(dir, file) : undefined;
  console.log(`\n=== summary: ${run.cores} cores (${run.cpu}), Node ${run.node}, ${run.date} ===`);
  if (compare && before === undefined) console.log('(--compare: no earlier result file in bench/results/)');
  console.log(table(run, before));
  console.log(`\nsaved ${file}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);
