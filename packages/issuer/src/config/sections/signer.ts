/**
 * `signer`: which algorithms to sign with. Gatehouse signs locally with keys kept in storage; Dex's
 * `local` signer config (`keysRotationPeriod`, `algorithm`) is read, its `vault` signer ignored.
 */
import { z } from 'zod';
import { parseDuration } from '@gatehouse/common';
import { closest } from '../keys.ts';
import { type RuleContext, type Raw, rec, str } from '../context.ts';

const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof ALGORITHMS)[number];

export const signerSchema = z.object({
  /** Dex: `local` (default) or `vault`. */
  type: z.string().optional(),
  /** Dex's local signer config: `keysRotationPeriod`, `algorithm` (RS256|ES256); checked by checkSigner. */
  config: z.record(z.string(), z.unknown()).optional(),
  /** Gatehouse: algorithms to publish and sign with; the first is the ID-token default. */
  algorithms: z.array(z.enum(ALGORITHMS)).min(1).optional(),
});

type ParsedSigner = z.output<typeof signerSchema>;

/** Dex's `type` and `config` are read by checkSigner and not kept. */
export interface SignerConfig extends Omit<ParsedSigner, 'type' | 'config' | 'algorithms'> {
  /** Algorithms to publish and sign with; the first is the default for ID tokens. Default RS256. */
  algorithms: SigningAlgorithm[];
}

/** What Dex's signer.config contributes (checkSigner), applied by finishSigner and finishExpiry. */
export interface DexSignerConfig {
  algorithm?: SigningAlgorithm;
  keysRotationPeriod?: number;
}

export function checkSigner(file: Raw, ctx: RuleContext): DexSignerConfig {
  const signer = rec(file, 'signer');
  const type = str(signer, 'type');
  const out: DexSignerConfig = {};
  if (type === 'vault') {
    ctx.warnings.push({
      path: 'signer.type',
      message:
        'the vault signer is not supported and is ignored: keys are generated, rotated and kept in the storage backend (choose algorithms with signer.algorithms)',
    });
    return out;
  }
  if (type !== undefined && type !== 'local') {
    ctx.errors.push({ path: 'signer.type', message: `unknown signer type "${type}"; use local` });
    return out;
  }
  for (const [key, value] of Object.entries(rec(signer, 'config') ?? {})) {
    const p = `signer.config.${key}`;
    if (key === 'keysRotationPeriod') {
      const seconds = typeof value === 'string' ? parseDuration(value) : undefined;
      if (seconds === undefined || seconds <= 0) ctx.errors.push({ path: p, message: 'expected a duration like "6h"' });
      else out.keysRotationPeriod = seconds;
    } else if (key === 'algorithm') {
      if (value === 'RS256' || value === 'ES256') {
        if (signer?.['algorithms'] === undefined) out.algorithm = value;
        else ctx.warnings.push({ path: p, message: 'ignored: signer.algorithms is set' });
      } else ctx.errors.push({ path: p, message: 'expected RS256 or ES256' });
    } else {
      const s = closest(key, ['keysRotationPeriod', 'algorithm']);
      ctx.errors.push({ path: p, message: `unknown key${s === undefined ? '' : `; did you mean "${s}"?`}` });
    }
  }
  return out;
}

export function finishSigner(parsed: ParsedSigner, dex: DexSignerConfig): SignerConfig {
  const { type: _type, config: _config, algorithms, ...rest } = parsed;
  return { ...rest, algorithms: algorithms ?? (dex.algorithm === undefined ? ['RS256'] : [dex.algorithm]) };
}
