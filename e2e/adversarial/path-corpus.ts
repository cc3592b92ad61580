/**
 * A generated corpus of request targets that try to make forward-auth's skip_auth_routes decision and the
 * app's reading of the path disagree: every spelling of every separator (`/ \ ? # % . ;`: raw, `%XX` upper and
 * lower case, double-encoded, overlong UTF-8), dot segments in every position, `//` and `\` prefixes, `;params`.
 * Each target starts on the public prefix (or pretends to) and aims at PRIVATE.
 */

export const PUBLIC_PREFIX = '/public/';
export const PRIVATE = 'private/secret';

const hex = (c: string) => c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');

/** Every spelling of one ASCII character, raw first. */
export function spellings(c: string): string[] {
  const h = hex(c);
  const out = [c, `%${h}`, `%${h.toLowerCase()}`, `%25${h}`, `%25${h.toLowerCase()}`, `%2525${h}`];
  // Overlong UTF-8: the 2- and 3-byte forms of an ASCII byte (invalid UTF-8, which some decoders accept).
  const b = c.charCodeAt(0);
  out.push(`%${(0xc0 | (b >> 6)).toString(16).toUpperCase()}%${(0x80 | (b & 0x3f)).toString(16).toUpperCase()}`);
  out.push(`%E0%${(0x80 | (b >> 6)).toString(16).toUpperCase()}%${(0x80 | (b & 0x3f)).toString(16).toUpperCase()}`);
  return [...new Set(out)];
}

const SLASHES = [...spellings('/'), ...spellings('\\')];
const DOTS = spellings('.');
const DOT_SEGMENTS = [
  ...DOTS,
  ...DOTS.flatMap((a) => DOTS.map((b) => a + b)),
  // Path parameters (Tomcat reads `..;x` as `..`), raw and encoded `;`.
  ...spellings(';').flatMap((semi) => ['..', '.'].flatMap((d) => [`${d}${semi}`, `${d}${semi}x`])),
];
const ENDS = [...spellings('#'), ...spellings('?'), ...spellings('%').slice(1), ...spellings(';')];

export interface PathCase {
  /** What the case tries (for the failure message). */
  kind: string;
  target: string;
}

/** The corpus, without duplicates. */
export function pathCorpus(): PathCase[] {
  const cases: PathCase[] = [];
  const add = (kind: string, target: string) => cases.push({ kind, target });

  // Controls: allowed and plainly not allowed.
  for (const t of [
    '/public/x',
    '/public/',
    '/public/a%20b',
    '/public/caf%C3%A9',
    '/public/a..b',
    '/private/secret',
    '/',
  ])
    add('control', t);

  // Dot segment + separator from inside the public prefix up to the private path.
  for (const dd of DOT_SEGMENTS) for (const sep of SLASHES) add('dotdot-sep', `${PUBLIC_PREFIX}${dd}${sep}${PRIVATE}`);
  // Two levels up (`/public/x/../../private`), the second separator raw.
  for (const dd of DOT_SEGMENTS)
    for (const sep of ['/', '%2F', '\\', '%5C']) add('dotdot-2', `${PUBLIC_PREFIX}x${sep}${dd}/../${PRIVATE}`);

  // A separator that ends the path for one reader and not for another, then dot segments.
  for (const end of ENDS)
    for (const dd of ['..', '%2E%2E', '.%2e']) add('end-then-dotdot', `${PUBLIC_PREFIX}x${end}/${dd}/${dd}/${PRIVATE}`);
  for (const end of ENDS) add('end-encoded-rest', `${PUBLIC_PREFIX}x${end}%2F..%2F..%2F${PRIVATE.replace('/', '%2F')}`);

  // Dot segments in every position of a public path.
  const segs = ['public', 'x', 'y'];
  for (const d of DOT_SEGMENTS)
    for (let i = 0; i <= segs.length; i++) {
      const parts = [...segs];
      parts.splice(i, 0, d);
      add('dot-position', `/${parts.join('/')}`);
    }

  // `//` and backslash prefixes: WHATWG reads `//public/...` (and `/\public`, `\\public`) as a host.
  for (const a of SLASHES) for (const b of SLASHES) add('authority-prefix', `${a}${b}public/${PRIVATE}`);
  for (const a of SLASHES) add('double-inside', `${PUBLIC_PREFIX.slice(0, -1)}${a}/${PRIVATE}`);
  add('authority-prefix', '//public/admin/secret');
  add('authority-prefix', '///public/x');

  // Encoded prefix letters (non-canonical escapes) and the private path dressed as public.
  add('noncanonical', '/%70ublic/x');
  add('noncanonical', '/%70%75%62%6c%69%63/x');
  add('noncanonical', `/%70rivate/secret`);
  add('params', `/public;x/../${PRIVATE}`);
  add('params', `/private;/public/x`);
  add('params', `/public/x;/../../${PRIVATE}`);

  const seen = new Set<string>();
  return cases.filter((c) => !seen.has(c.target) && (seen.add(c.target), true));
}

/** Whether Node's HTTP client can send this target at all (it refuses spaces, controls and chars > U+00FF). */
export function sendable(target: string): boolean {
  return /^[\u0021-\u00ff]+$/.test(target);
}

/**
 * Targets with one raw byte that HTTP clients never send (controls, space, DEL, bytes above 0x7F, as latin1
 * characters) in each position around a dot-segment climb from the public prefix.
 */
export function rawByteCorpus(): PathCase[] {
  const bytes = [...Array.from({ length: 0x21 }, (_, i) => i), 0x7f, 0x80, 0x85, 0xa0, 0xc0, 0xc3, 0xe0, 0xff];
  const cases: PathCase[] = [];
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (c === '\r' || c === '\n') continue; // they end the request line: not a target
    cases.push({ kind: 'raw-byte-then-dotdot', target: `${PUBLIC_PREFIX}x${c}/../../${PRIVATE}` });
    cases.push({ kind: 'raw-byte-in-dotdot', target: `${PUBLIC_PREFIX}.${c}./${PRIVATE}` });
    cases.push({ kind: 'raw-byte-in-segment', target: `${PUBLIC_PREFIX}a${c}b` });
    cases.push({ kind: 'raw-byte-prefix', target: `/${c}/public/x` });
  }
  return cases;
}
