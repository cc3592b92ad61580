/**
 * `$VAR` / `${VAR}` expansion with Go's `os.ExpandEnv` rules, which Dex applies to every string
 * inside `storage.config`, `connectors[].config` and `signer.config` (nowhere else). An unset
 * variable becomes "" and there is no escape for a literal `$` (hence the on/off switch).
 */

const SPECIAL = new Set(['*', '#', '$', '@', '!', '?', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
const ALNUM = /[A-Za-z0-9_]/;

/** Go's getShellName: the variable name after `$` and how many characters it spans. */
function shellName(s: string): { name: string; width: number } {
  const first = s[0] ?? '';
  if (first === '{') {
    if (s.length > 2 && SPECIAL.has(s[1] ?? '') && s[2] === '}') return { name: s.slice(1, 2), width: 3 };
    for (let i = 1; i < s.length; i++) {
      if (s[i] === '}') {
        if (i === 1) return { name: '', width: 2 }; // "${}": bad syntax, eaten
        return { name: s.slice(1, i), width: i + 1 };
      }
    }
    return { name: '', width: 1 }; // "${" without "}": bad syntax, eaten
  }
  if (SPECIAL.has(first)) return { name: first, width: 1 };
  let i = 0;
  while (i < s.length && ALNUM.test(s[i] ?? '')) i++;
  return { name: s.slice(0, i), width: i };
}

/** Expands one string. `onVariable` sees every referenced name (to warn about unset ones). */
export function expandString(
  s: string,
  lookup: (name: string) => string | undefined,
  onVariable?: (name: string, isSet: boolean) => void,
): string {
  let out = '';
  let i = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] === '$' && j + 1 < s.length) {
      out += s.slice(i, j);
      const { name, width } = shellName(s.slice(j + 1));
      if (name === '' && width > 0) {
        // invalid syntax: the characters are dropped, as Go does
      } else if (name === '') {
        out += '$';
      } else {
        const value = lookup(name);
        onVariable?.(name, value !== undefined);
        out += value ?? '';
      }
      j += width;
      i = j + 1;
    }
  }
  return out + s.slice(i);
}

/** Expands every string value (not keys) in a JSON-like tree, recursively. */
export function expandTree(
  value: unknown,
  lookup: (name: string) => string | undefined,
  onVariable?: (path: Array<string | number>, name: string, isSet: boolean) => void,
  path: Array<string | number> = [],
): unknown {
  if (typeof value === 'string') {
    return expandString(value, lookup, onVariable && ((name, isSet) => onVariable(path, name, isSet)));
  }
  if (Array.isArray(value)) return value.map((v, i) => expandTree(v, lookup, onVariable, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandTree(v, lookup, onVariable, [...path, k]);
    return out;
  }
  return value;
}

/** `DEX_EXPAND_ENV` / `GATEHOUSE_EXPAND_ENV` (the latter wins); default on. Go's strconv.ParseBool values. */
export function expandEnvEnabled(env: NodeJS.ProcessEnv): boolean {
  const raw = env['GATEHOUSE_EXPAND_ENV'] ?? env['DEX_EXPAND_ENV'];
  if (raw === undefined || raw === '') return true;
  return !['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw.trim());
}
