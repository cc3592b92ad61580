// How a bench hands its figures to `pnpm bench` (bench/run.ts), which prints them in one table and keeps them as
// JSON: one line per bench appended to the file named by BENCH_REPORT. Run alone, a bench only prints.
import { appendFileSync } from 'node:fs';

export interface Figure {
  name: string;
  value: number;
  /** `ops/s`, `req/s`, `ms`, ... */
  unit: string;
  /** What `ratio` divides by, when this figure has a baseline measured in the same run. */
  baseline?: string;
  ratio?: number;
  /** The target for `ratio`, e.g. `≥ 0.8`. */
  target?: string;
}

export const REPORT_ENV = 'BENCH_REPORT';

export function report(bench: string, figures: readonly Figure[]): void {
  const file = process.env[REPORT_ENV];
  if (file === undefined || file === '') return;
  appendFileSync(file, `${JSON.stringify({ bench, figures })}\n`);
}
