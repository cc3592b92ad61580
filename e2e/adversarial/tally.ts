/**
 * Attack classes and their cases: each case states the outcomes it accepts, the observed outcome is checked
 * with `expect.soft` (a corpus reports every failing case, not only the first), and each class's counts are
 * printed after its file and summed over the run by `tally-global.ts`.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    adversarialTallyDir: string;
  }
}

export interface ClassCounts {
  cls: string;
  cases: number;
  failed: number;
  /** How many cases ended in each observed outcome. */
  outcomes: Record<string, number>;
}

export interface AttackClass {
  readonly name: string;
  /**
   * One case: `actual` must be one of `expected`. `detail` (what was sent and seen) goes into the failure
   * message. Returns whether the case passed.
   */
  check(caseName: string, expected: string | readonly string[], actual: string, detail?: string): boolean;
  readonly counts: ClassCounts;
}

const classes: AttackClass[] = [];

function formatCounts(c: ClassCounts): string {
  const outcomes = Object.entries(c.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${c.cls}: ${c.cases} cases, ${c.failed} failed (${outcomes})`;
}

export { formatCounts };

let hooked = false;

/**
 * Declares an attack class in a test file (call it at the top level of the file). Class names are
 * `area/what`, e.g. `path/skip-auth-routes`, `headers/identity-injection`.
 */
export function defineClass(name: string): AttackClass {
  const counts: ClassCounts = { cls: name, cases: 0, failed: 0, outcomes: {} };
  const cls: AttackClass = {
    name,
    counts,
    check(caseName, expected, actual, detail) {
      const allowed = typeof expected === 'string' ? [expected] : expected;
      counts.cases++;
      counts.outcomes[actual] = (counts.outcomes[actual] ?? 0) + 1;
      const ok = allowed.includes(actual);
      if (!ok) counts.failed++;
      expect
        .soft(actual, `[${name}] ${caseName}: expected ${allowed.join(' | ')}${detail ? `; ${detail}` : ''}`)
        .toBeOneOf([...allowed]);
      return ok;
    },
  };
  classes.push(cls);
  if (!hooked) {
    hooked = true;
    afterAll(() => {
      const dir = inject('adversarialTallyDir') as string | undefined;
      for (const c of classes) {
        console.log(`[adversarial] ${formatCounts(c.counts)}`);
        if (dir) appendFileSync(join(dir, 'tally.jsonl'), `${JSON.stringify(c.counts)}\n`);
      }
    });
  }
  return cls;
}
