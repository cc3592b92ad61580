// `{{NAME}}` placeholders in an nginx configuration template. Filling is strict: a placeholder without a
// value, or a value that could end an nginx directive early, is an error naming every offender at once.

const PLACEHOLDER = /\{\{([A-Z][A-Z0-9_]*)\}\}/g;
// Characters that would let a value add directives or blocks to the configuration.
const UNSAFE_VALUE = /[;{}\n\r"'\\]/;

export class TemplateError extends Error {
  readonly code = 'template_invalid';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`nginx template: ${problems.join('; ')}`);
    this.name = 'TemplateError';
    this.problems = problems;
  }
}

// Comment lines are documentation (they may name placeholders) and are left as they are.
const isComment = (line: string): boolean => line.trimStart().startsWith('#');

/** The distinct placeholder names a template's directives use, in order of first appearance. */
export function placeholdersOf(template: string): string[] {
  const names = new Set<string>();
  for (const line of template.split('\n')) {
    if (isComment(line)) continue;
    for (const m of line.matchAll(PLACEHOLDER)) names.add(m[1] as string);
  }
  return [...names];
}

/** Replaces every `{{NAME}}` with `vars[NAME]`; throws `TemplateError` listing missing or unsafe values. */
export function fillTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  const problems: string[] = [];
  for (const name of placeholdersOf(template)) {
    const value = vars[name];
    if (value === undefined) problems.push(`no value for {{${name}}}`);
    else if (value === '' || UNSAFE_VALUE.test(value))
      problems.push(`unsafe value for {{${name}}} (empty, or contains ; { } quotes, backslash or a newline)`);
  }
  if (problems.length > 0) throw new TemplateError(problems);
  return template
    .split('\n')
    .map((line) => (isComment(line) ? line : line.replace(PLACEHOLDER, (_, name: string) => vars[name] as string)))
    .join('\n');
}
