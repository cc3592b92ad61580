/** A plain JSON-like object (not null, not an array): what a parsed YAML/JSON mapping is. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}
