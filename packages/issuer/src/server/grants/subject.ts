/**
 * The `sub` claim, encoded exactly as Dex does so that users keep their subject when a Dex
 * deployment moves to Gatehouse: base64url (no padding) of the protobuf message
 * `IDTokenSubject { string user_id = 1; string conn_id = 2; }`.
 * Stable for a (userId, connectorId) pair, and reversible so `findAccount` can tell which
 * connector a subject belongs to.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function field(tag: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([tag, ...varint(bytes.length)]), bytes]);
}

export function encodeSubject(userId: string, connectorId: string): string {
  return Buffer.concat([field(0x0a, userId), field(0x12, connectorId)]).toString('base64url');
}

/** The (userId, connectorId) pair inside a subject, or undefined when it is not one of ours. */
export function decodeSubject(sub: string): { userId: string; connectorId: string } | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(sub)) return undefined;
  const buf = Buffer.from(sub, 'base64url');
  const fields = new Map<number, string>();
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i++];
    if (tag !== 0x0a && tag !== 0x12) return undefined;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      if (b === undefined || shift > 28) return undefined;
      len |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    if (i + len > buf.length) return undefined;
    fields.set(tag, buf.subarray(i, i + len).toString('utf8'));
    i += len;
  }
  const userId = fields.get(0x0a);
  const connectorId = fields.get(0x12);
  if (userId === undefined || connectorId === undefined) return undefined;
  return { userId, connectorId };
}
