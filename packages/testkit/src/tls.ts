import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

/** A leaf certificate and its private key, both PEM. */
export interface IssuedCert {
  cert: string;
  key: string;
}

/** A throwaway certificate authority for tests that run TLS servers on loopback. */
export interface TestCA {
  /** The CA certificate (PEM): what a client trusts. */
  caCert: string;
  /** The CA private key (PEM), for tests that need to sign something themselves. */
  caKey: string;
  /** A server certificate for these DNS names and/or IP addresses (the first one is the CN). */
  issue(hostnames: string[]): Promise<IssuedCert>;
  /** A client certificate (extKeyUsage clientAuth) with this common name, for mutual TLS. */
  issueClient(commonName: string): Promise<IssuedCert>;
}

/** How long certificates stay valid. Tests keep the default; the demo keeps its CA across runs. */
export interface ValidityOptions {
  /** Lifetime in days of the CA (default 30). */
  caDays?: number;
  /** Lifetime in days of the certificates it issues (default 30). */
  leafDays?: number;
}

const day = 24 * 60 * 60 * 1000;

function validity(days: number): { notBeforeDate: Date; notAfterDate: Date } {
  // A little in the past so clock skew between processes never makes a fresh cert "not yet valid".
  const now = Date.now();
  return { notBeforeDate: new Date(now - day), notAfterDate: new Date(now + days * day) };
}

/**
 * Creates a CA (EC P-256, SHA-256) that issues server and client certificates.
 * Use `issue(['localhost', '127.0.0.1'])` for a loopback server and give clients `caCert`.
 */
export async function createTestCA(name = 'Gatehouse Test CA', options: ValidityOptions = {}): Promise<TestCA> {
  const ca = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity(options.caDays ?? 30),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return loadTestCA({ caCert: ca.cert, caKey: ca.private }, options);
}

/** A CA made earlier by `createTestCA` (its two PEMs, e.g. kept in files), issuing again. */
export function loadTestCA(pems: { caCert: string; caKey: string }, options: ValidityOptions = {}): TestCA {
  const signer = { key: pems.caKey, cert: pems.caCert };
  const leafDays = options.leafDays ?? 30;

  return {
    caCert: pems.caCert,
    caKey: pems.caKey,
    async issue(hostnames: string[]): Promise<IssuedCert> {
      const first = hostnames[0];
      if (first === undefined) throw new Error('issue() needs at least one hostname');
      const altNames = hostnames.map((h) =>
        isIP(h) !== 0 ? { type: 7 as const, ip: h } : { type: 2 as const, value: h },
      );
      const leaf = await generate([{ name: 'commonName', value: first }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ...validity(leafDays),
        ca: signer,
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames },
        ],
      });
      return { cert: leaf.cert, key: leaf.private };
    },
    async issueClient(commonName: string): Promise<IssuedCert> {
      const leaf = await generate([{ name: 'commonName', value: commonName }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ...validity(leafDays),
        ca: signer,
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, critical: true },
          { name: 'extKeyUsage', clientAuth: true },
        ],
      });
      return { cert: leaf.cert, key: leaf.private };
    },
  };
}

/**
 * base64(SHA-256(SubjectPublicKeyInfo)) of a certificate (the first of a PEM chain): the form Chromium's
 * `--ignore-certificate-errors-spki-list` takes, which accepts a server whose chain holds that key.
 */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
