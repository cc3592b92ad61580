import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { cookieSecretBytes, deriveKey } from '../config/secret.ts';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_BYTES = 4;
const HEADER = 1 + KID_BYTES + IV_BYTES;

interface Key {
  readonly id: Buffer;
  readonly key: Buffer;
}

/**
 * AES-256-GCM sealing of cookie values. The first secret encrypts, every secret decrypts (rotation); a 4-byte key
 * id (a hash of the derived key, not the key) picks the key without trial decryption. The cookie name is bound as
 * additional authenticated data, so a value cannot be moved to another cookie.
 */
export class CookieCipher {
  readonly #keys: readonly Key[];

  constructor(secrets: readonly string[], purpose: 'session' | 'csrf' | 'signout') {
    const keys: Key[] = [];
    for (const s of secrets) {
      const bytes = cookieSecretBytes(s);
      if (bytes === undefined) throw new TypeError('cookie secret must be 16, 24 or 32 bytes');
      const key = deriveKey(bytes, purpose);
      keys.push({ id: createHash('sha256').update(key).digest().subarray(0, KID_BYTES), key });
    }
    if (keys.length === 0) throw new TypeError('at least one cookie secret is required');
    this.#keys = keys;
  }

  seal(plaintext: Buffer, name: string): string {
    const { id, key } = this.#keys[0] as Key;
    const iv = randomBytes(IV_BYTES);
    const head = Buffer.concat([Buffer.of(VERSION), id, iv]);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(head, name));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return Buffer.concat([head, body]).toString('base64url');
  }

  /** The plaintext, or undefined when the value is malformed, foreign, tampered with, or bound to another name. */
  open(value: string, name: string): Buffer | undefined {
    if (value.length < 8 || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < HEADER + TAG_BYTES || raw[0] !== VERSION) return undefined;
    const id = raw.subarray(1, 1 + KID_BYTES);
    const head = raw.subarray(0, HEADER);
    const iv = raw.subarray(1 + KID_BYTES, HEADER);
    const body = raw.subarray(HEADER, raw.length - TAG_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    for (const k of this.#keys) {
      if (!k.id.equals(id)) continue;
      try {
        const decipher = createDecipheriv('aes-256-gcm', k.key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(head, name));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        // wrong key with a colliding id, or tampered: try the next one
      }
    }
    return undefined;
  }
}

function aad(head: Buffer, name: string): Buffer {
  return Buffer.concat([head, Buffer.from(`\0${name}`, 'utf8')]);
}
