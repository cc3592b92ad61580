/** An HTTP-date starts with a day name (IMF-fixdate, and the obsolete RFC 850 and asctime forms). */
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as whole seconds from `now`
 * (never negative). `undefined` when absent or unreadable (`Date.parse` alone would read "1.5"
 * or "-5" as dates).
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
