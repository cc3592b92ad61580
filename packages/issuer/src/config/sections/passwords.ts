/**
 * `enablePasswordDB` and `staticPasswords`: the password DB the issuer opens as connector `local`
 * (connectors/local.ts), with users from the file.
 */
import { z } from 'zod';
import { isRecord } from '@gatehouse/common';
import { BCRYPT_HASH } from '../../connectors/local.ts';
import { type RuleContext, type Raw, arr, envValue, str } from '../context.ts';
import { envName } from '../values.ts';

export const enablePasswordDBSchema = z.boolean().default(false);

export const staticPasswordSchema = z.object({
  /** Lower-cased by finishPasswords (the username defaults to it as written). */
  email: z.string().email({ message: 'expected an email address' }),
  /** `hash` or `hashFromEnv`: resolved by checkPasswords. */
  hash: z.string().min(1).optional(),
  hashFromEnv: envName.optional(),
  /** Defaults to the email. */
  username: z.string().min(1).optional(),
  userID: z.string().min(1, { message: 'required' }),
  name: z.string().min(1).optional(),
  preferredUsername: z.string().min(1).optional(),
  emailVerified: z.boolean().default(true),
  groups: z.array(z.string().min(1)).default([]),
});

type ParsedPassword = z.output<typeof staticPasswordSchema>;

export interface StaticPassword extends Omit<ParsedPassword, 'hash' | 'hashFromEnv' | 'username'> {
  /** bcrypt hash (cost 10..16). */
  hash: string;
  username: string;
}

/** Dex accepts a bcrypt hash or its base64 encoding (legacy). */
function normaliseHash(value: string): string | undefined {
  if (value.startsWith('$2')) return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return decoded.startsWith('$2') ? decoded : undefined;
}

/** Returns each user's bcrypt hash (from the file or the environment, base64 decoded). */
export function checkPasswords(file: Raw, ctx: RuleContext): Array<string | undefined> {
  const list = arr(file, 'staticPasswords');
  if (list.length > 0 && file['enablePasswordDB'] !== true) {
    ctx.errors.push({
      path: 'staticPasswords',
      message: 'cannot specify static passwords without enabling the password DB (enablePasswordDB: true)',
    });
  }
  const seen = new Map<string, number>();
  return list.map((p, i) => {
    if (!isRecord(p)) return undefined;
    const base = `staticPasswords[${i}]`;
    const hasHash = p['hash'] !== undefined;
    const hasEnv = p['hashFromEnv'] !== undefined;
    let raw: string | undefined;
    let where = `${base}.hash`;
    let hash: string | undefined;
    if (hasHash && hasEnv)
      ctx.errors.push({ path: `${base}.hashFromEnv`, message: 'hash and hashFromEnv are exclusive' });
    else if (!hasHash && !hasEnv) ctx.errors.push({ path: `${base}.hash`, message: 'hash or hashFromEnv is required' });
    else if (hasHash) raw = str(p, 'hash');
    else {
      where = `${base}.hashFromEnv`;
      const name = str(p, 'hashFromEnv');
      if (name !== undefined) raw = envValue(ctx, name, where);
    }
    if (raw !== undefined) {
      const normalised = normaliseHash(raw);
      const cost = normalised === undefined ? undefined : /^\$2[abxy]\$([0-9]{2})\$/.exec(normalised)?.[1];
      if (
        normalised === undefined ||
        cost === undefined ||
        !/^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$/.test(normalised)
      ) {
        ctx.errors.push({
          path: where,
          message: 'not a bcrypt hash (generate one with `htpasswd -bnBC 10 "" PASSWORD | tr -d \':\\n\'`)',
        });
      } else if (!BCRYPT_HASH.test(normalised)) {
        ctx.errors.push({ path: where, message: `bcrypt cost ${Number(cost)} is outside the accepted range 10..16` });
      } else hash = normalised;
    }
    const email = str(p, 'email')?.toLowerCase();
    if (email !== undefined) {
      const first = seen.get(email);
      if (first !== undefined)
        ctx.errors.push({ path: `${base}.email`, message: `duplicate email (also staticPasswords[${first}])` });
      else seen.set(email, i);
    }
    return hash;
  });
}

export function finishPasswords(parsed: ParsedPassword[], hashes: Array<string | undefined>): StaticPassword[] {
  return parsed.map(({ hash: _hash, hashFromEnv: _hashFromEnv, email, username, ...rest }, i) => ({
    ...rest,
    email: email.toLowerCase(),
    hash: hashes[i] ?? '',
    username: username ?? email,
  }));
}
