// vitest globalSetup for the e2e project: collects every attack class's counts (written by tally.ts in each
// test file's afterAll) and prints the totals once, after the whole run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { formatCounts, type ClassCounts } from './tally.ts';

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-adversarial-'));
  project.provide('adversarialTallyDir', dir);
  return () => {
    let lines: string[] = [];
    try {
      lines = readFileSync(join(dir, 'tally.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l !== '');
    } catch {
      // no class ran (filtered run)
    }
    rmSync(dir, { recursive: true, force: true });
    if (lines.length === 0) return;
    const merged = new Map<string, ClassCounts>();
    for (const l of lines) {
      const c = JSON.parse(l) as ClassCounts;
      const m = merged.get(c.cls) ?? { cls: c.cls, cases: 0, failed: 0, outcomes: {} };
      m.cases += c.cases;
      m.failed += c.failed;
      for (const [k, v] of Object.entries(c.outcomes)) m.outcomes[k] = (m.outcomes[k] ?? 0) + v;
      merged.set(c.cls, m);
    }
    const all = [...merged.values()].sort((a, b) => a.cls.localeCompare(b.cls));
    const total = all.reduce((n, c) => n + c.cases, 0);
    console.log(
      `\nAdversarial suite: ${total} cases in ${all.length} classes\n${all.map((c) => `  ${formatCounts(c)}`).join('\n')}\n`,
    );
  };
}
