import { createHash, randomBytes } from 'node:crypto';

/** A PKCE pair (RFC 7636). S256 only: `plain` protects nothing once the authorize URL leaks. */
export interface PkcePair {
  /** Kept with the login (never sent to the browser); 43 base64url characters. */
  verifier: string;
  /** Sent upstream as `code_challenge`. */
  challenge: string;
  method: 'S256';
}

export function createPkce(): PkcePair {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge, method: 'S256' };
}
