/**
 * Go's `time.ParseDuration` syntax: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns, us, µs (U+00B5),
 * μs (U+03BC), ms, s, m, h, and a bare "0". Dex config files and oauth2-proxy options (parsed by
 * Go's flag/viper into `time.Duration`) both use it, so the issuer and forward-auth share this
 * parser. Negative durations are refused (no lifetime can be negative); surrounding white space is
 * ignored.
 */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;

/** Seconds, or undefined when `text` is not a (non-negative) Go duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  const s = trimmed.startsWith('+') ? trimmed.slice(1) : trimmed;
  if (s === '0') return 0;
  if (s === '' || s.startsWith('-')) return undefined;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (m === null) return undefined;
    const [, num = '', unit = ''] = m;
    // Go: digits before or after the point, not neither (".s", "s").
    if (num === '' || num === '.') return undefined;
    const factor = UNIT_SECONDS[unit];
    if (factor === undefined) return undefined;
    total += Number(num) * factor;
    pos = PART.lastIndex;
  }
  // Avoid 0.30000000000000004-style noise from sub-second units.
  return Math.round(total * 1e9) / 1e9;
}

/** Whole milliseconds, or undefined when `text` is not a (non-negative) Go duration. */
export function parseDurationMs(text: string): number | undefined {
  const seconds = parseDuration(text);
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}
