import type { Entry } from 'ldapts';

/** Attributes whose values are binary (Active Directory ids): read as bytes, shown as base64. */
const BINARY_ATTRIBUTES = new Set(['objectguid', 'objectsid', 'msexchmailboxguid', 'msds-consistencyguid']);

export function isBinaryAttribute(name: string): boolean {
  return BINARY_ATTRIBUTES.has(name.toLowerCase());
}

/** All values of an attribute (looked up case-insensitively; `DN` means the entry's DN). */
export function values(entry: Entry, name: string): (string | Buffer)[] {
  if (name === 'DN') return [entry.dn];
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const raw = key === undefined ? undefined : entry[key];
  if (raw === undefined) return [];
  return Array.isArray(raw) ? raw : [raw];
}

/** The first value as text (binary attributes base64-encoded), or undefined if absent or empty. */
export function first(entry: Entry, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const v = values(entry, name)[0];
  if (v === undefined) return undefined;
  const text = Buffer.isBuffer(v) ? (isBinaryAttribute(name) ? v.toString('base64') : v.toString('utf8')) : v;
  return text === '' ? undefined : text;
}
