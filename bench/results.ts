// `pnpm bench`'s summary: one table of every figure next to its baseline and ratio, kept as JSON in bench/results/
// (with the machine's core count, Node version and date) and, with --compare, set against the previous file.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import type { Figure } from './report.ts';

export interface BenchRun {
  date: string;
  node: string;
  cores: number;
  cpu: string;
  uvThreadpoolSize: string;
  /** Benches as named on the command line (all when empty). */
  benches: string[];
  figures: Array<Figure & { bench: string }>;
}

export function collect(reportFile: string, benches: string[]): BenchRun {
  let text = '';
  try {
    text = readFileSync(reportFile, 'utf8');
  } catch {
    // No bench reported anything.
  }
  const figures = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      const r = JSON.parse(l) as { bench: string; figures: Figure[] };
      return r.figures.map((f) => ({ bench: r.bench, ...f }));
    });
  return {
    date: new Date().toISOString(),
    node: process.versions.node,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? 'default',
    benches,
    figures,
  };
}

/** Writes `run` as `<dir>/<date>.json` and returns the path. */
export function save(dir: string, run: BenchRun): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${run.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  return file;
}

/** The newest result file in `dir` other than `except`. */
export function previous(dir: string, except: string): BenchRun | undefined {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.json') && join(dir, n) !== except)
      .sort();
  } catch {
    return undefined;
  }
  const last = names.at(-1);
  return last === undefined ? undefined : (JSON.parse(readFileSync(join(dir, last), 'utf8')) as BenchRun);
}

const num = (v: number | undefined, digits = v !== undefined && Math.abs(v) < 10 ? 2 : 0) =>
  v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits);

/** The table as Markdown; with `before`, each ratio (or, without one, each value) next to the earlier run's. */
export function table(run: BenchRun, before?: BenchRun): string {
  const key = (f: { bench: string; name: string }) => `${f.bench}\u0000${f.name}`;
  const old = new Map((before?.figures ?? []).map((f) => [key(f), f]));
  const head = ['bench', 'figure', 'value', 'unit', 'baseline', 'ratio', 'target'];
  if (before) head.push(`before (${before.date.slice(0, 16)})`, 'change');
  const rows = run.figures.map((f) => {
    const row = [
      f.bench,
      f.name,
      num(f.value),
      f.unit,
      f.baseline ?? '',
      f.ratio === undefined ? '' : `${num(f.ratio)}×`,
      f.target ?? '',
    ];
    if (before) {
      const o = old.get(key(f));
      const now = f.ratio ?? f.value;
      const then = o === undefined ? undefined : (o.ratio ?? o.value);
      row.push(o === undefined ? 'new' : o.ratio === undefined ? `${num(o.value)} ${o.unit}` : `${num(o.ratio)}×`);
      row.push(then === undefined || then === 0 ? '' : `${num(now / then)}×`);
    }
    return row;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= 2 && i !== 3 && i !== 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
