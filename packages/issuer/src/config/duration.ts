/**
 * Go `time.ParseDuration` syntax, which Dex config files use (`24h`, `30m`, `3s`, `1h30m`,
 * `500ms`), converted to seconds. Negative durations are refused: no expiry can be negative.
 */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;

/** Seconds, or undefined when `text` is not a Go duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  const s = trimmed.startsWith('+') ? trimmed.slice(1) : trimmed;
  if (s === '0') return 0;
  if (s === '' || s.startsWith('-')) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (m === null) return undefined;
    const [, num = '', unit = ''] = m;
    if (num === '' || num === '.') return undefined;
    const factor = UNIT_SECONDS[unit];
    if (factor === undefined) return undefined;
    total += Number(num) * factor;
    pos = PART.lastIndex;
  }
  // Avoid 0.30000000000000004-style noise from sub-second units.
  return Math.round(total * 1e9) / 1e9;
}
