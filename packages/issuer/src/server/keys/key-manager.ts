/**
 * Signing keys: generated with jose, kept in `store.keys`, rotated every `expiry.signingKeys`.
 *
 * Replicas agree through compare-and-swap: whoever finds the keys due writes the next set only if
 * the stored version is still the one it read; the loser re-reads and adopts the winner's keys.
 * A demoted key stays published (JWKS) until every ID token it signed has expired
 * (`expiry.idTokens` after demotion).
 *
 * The key set also carries the cookie-signing secret as an `oct` JWK with `use: "cookie"`, so all
 * replicas sign and verify oidc-provider's cookies with the same keys. It is carried over
 * unchanged on rotation (sessions and logins outlive a 6 h rotation); it never appears in JWKS.
 *
 * How a rotation reaches a running oidc-provider (which takes `jwks` at construction): the
 * KeyManager re-reads the store every `checkInterval` and on `rotateKeys()`; when the version
 * changed, the issuer builds a new Provider with the new keys and swaps it in atomically (see
 * `server/app.ts`). All provider state lives in the Store, so requests in flight on the old
 * instance finish normally and the next request uses the new one.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { KeyStore, PrivateJWK, PublicJWK, SigningKeySet, VersionedKeys } from '@gatehouse/storage';
import type { SignerConfig } from '../../config/types.ts';

export type SigningAlgorithm = SignerConfig['algorithms'][number];

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

export function toPublicJWK(jwk: PrivateJWK): PublicJWK {
  const pub: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(jwk)) if (!PRIVATE_MEMBERS.includes(k)) pub[k] = v;
  return pub as PublicJWK;
}

export async function generateSigningKey(alg: SigningAlgorithm): Promise<PrivateJWK> {
  const { privateKey } =
    alg === 'RS256'
      ? await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })
      : alg === 'ES256'
        ? await generateKeyPair('ES256', { extractable: true })
        : await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  // Dex uses 20 random bytes, hex, as kid; ours also names the algorithm for readable logs.
  return { ...jwk, kid: `${alg.toLowerCase()}-${randomBytes(12).toString('hex')}`, alg, use: 'sig' } as PrivateJWK;
}

function generateCookieKey(): PrivateJWK {
  return {
    kty: 'oct',
    k: randomBytes(32).toString('base64url'),
    kid: `cookie-${randomBytes(8).toString('hex')}`,
    alg: 'HS256',
    use: 'cookie',
  };
}

const isCookieKey = (jwk: PrivateJWK): boolean => jwk.use === 'cookie';

export interface KeyManagerOptions {
  store: KeyStore;
  algorithms: SigningAlgorithm[];
  /** Seconds between rotations (`expiry.signingKeys`). */
  rotationPeriod: number;
  /** Seconds a demoted key stays published (`expiry.idTokens`). */
  verificationPeriod: number;
  now?: () => number;
}

export class KeyManager {
  readonly #options: KeyManagerOptions;
  #current: VersionedKeys | undefined;

  constructor(options: KeyManagerOptions) {
    this.#options = options;
  }

  #now(): number {
    return Math.floor((this.#options.now?.() ?? Date.now()) / 1000);
  }

  get version(): string | undefined {
    return this.#current?.version;
  }

  /** Reads the stored keys, creating or rotating them when missing or due.
   * Returns true when the keys in use changed. */
  async refresh(): Promise<boolean> {
    return this.#sync(false);
  }

  /** Rotates now (unless another replica rotated since we last read). Returns true on change. */
  async rotate(): Promise<boolean> {
    return this.#sync(true);
  }

  async #sync(force: boolean): Promise<boolean> {
    const before = this.#current?.version;
    for (let attempt = 0; attempt < 8; attempt++) {
      const stored = await this.#options.store.get();
      const due = !stored || stored.keys.nextRotation <= this.#now() || !this.#complete(stored.keys);
      const someoneElseRotated = force && stored !== undefined && before !== undefined && stored.version !== before;
      if (stored && !due && (!force || someoneElseRotated)) {
        this.#current = stored;
        return stored.version !== before;
      }
      const next = await this.#next(stored?.keys);
      if (await this.#options.store.compareAndSwap(stored?.version, next)) {
        const written = await this.#options.store.get();
        if (written) {
          this.#current = written;
          return written.version !== before;
        }
      }
      // Lost the race: another replica wrote first; loop re-reads and adopts its keys.
      force = false;
    }
    throw new Error('could not agree on signing keys with other replicas');
  }

  /** Every configured algorithm has a signing key, and a cookie key exists. */
  #complete(keys: SigningKeySet): boolean {
    return (
      this.#options.algorithms.every((alg) => keys.signing.some((k) => k.alg === alg && !isCookieKey(k))) &&
      keys.signing.some(isCookieKey)
    );
  }

  async #next(prev: SigningKeySet | undefined): Promise<SigningKeySet> {
    const now = this.#now();
    const retired = (prev?.retired ?? []).filter((r) => r.expiresAt > now);
    for (const k of prev?.signing ?? []) {
      if (!isCookieKey(k)) retired.push({ jwk: toPublicJWK(k), expiresAt: now + this.#options.verificationPeriod });
    }
    const cookie = prev?.signing.find(isCookieKey) ?? generateCookieKey();
    const signing: PrivateJWK[] = [];
    for (const alg of this.#options.algorithms) signing.push(await generateSigningKey(alg));
    signing.push(cookie);
    return { signing, retired, nextRotation: now + this.#options.rotationPeriod };
  }

  #keys(): SigningKeySet {
    if (!this.#current) throw new Error('signing keys not loaded');
    return this.#current.keys;
  }

  /** Private signing keys for oidc-provider's `jwks` (default algorithm first). */
  providerJWKS(): { keys: PrivateJWK[] } {
    return {
      keys: this.#keys()
        .signing.filter((k) => !isCookieKey(k))
        .map((k) => ({ ...k })),
    };
  }

  /** What `/keys` publishes: current signing keys and retired ones not yet expired. */
  publicJWKS(): { keys: PublicJWK[] } {
    const now = this.#now();
    const keys = this.#keys();
    return {
      keys: [
        ...keys.signing.filter((k) => !isCookieKey(k)).map(toPublicJWK),
        ...keys.retired.filter((r) => r.expiresAt > now).map((r) => r.jwk),
      ],
    };
  }

  /** Secrets for oidc-provider's `cookies.keys` (keygrip: the first signs). */
  cookieKeys(): string[] {
    return this.#keys()
      .signing.filter(isCookieKey)
      .map((k) => String(k.k));
  }

  nextRotation(): number {
    return this.#keys().nextRotation;
  }
}
