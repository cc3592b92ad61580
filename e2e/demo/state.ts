/**
 * What the demo keeps between runs, in one git-ignored directory (default `data/demo/`): the local CA (so a
 * browser that trusts it once keeps trusting it), the server certificate it issued, the generated secrets and
 * the issuer's SQLite file. Delete the directory to start over with a new CA.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestCA, loadTestCA } from '@gatehouse/testkit/tls';
import type { EdgeTLS } from '../src/edge.ts';

const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
const SERVER_DAYS = 365;
/** Renew a certificate this long before it expires. */
const RENEW_MS = 30 * DAY_MS;

export interface DemoSecrets {
  /** forward-auth's client secret at the issuer. */
  client: string;
  /** forward-auth's cookie_secret (sessions survive a restart of the demo). */
  cookie: string;
  /** X-Gatehouse-Proxy-Secret: how the sample app tells nginx's requests from others. */
  appProxy: string;
  /** GATEHOUSE_STORAGE_KEY: seals the signing keys in the SQLite file. */
  storage: string;
}

export interface DemoState {
  dir: string;
  /** The CA certificate (PEM) to trust: `<dir>/ca.crt`. */
  caFile: string;
  /** Server certificate chain (leaf then CA) and key for nginx, and the CA for Node clients. */
  tls: EdgeTLS;
  secrets: DemoSecrets;
  dbFile: string;
  /** What this run had to make (nothing on a warm start). */
  made: { ca: boolean; serverCert: boolean; secrets: boolean };
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

const validFor = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) - Date.now();

/** A server certificate is reused only if this CA issued it, it names every host and is not about to expire. */
function serverCertFits(chain: string, caCert: string, hosts: string[]): boolean {
  try {
    const leaf = new X509Certificate(chain);
    const san = leaf.subjectAltName ?? '';
    return (
      leaf.checkIssued(new X509Certificate(caCert)) &&
      hosts.every((h) => san.split(', ').includes(`DNS:${h}`)) &&
      validFor(chain) > RENEW_MS
    );
  } catch {
    return false;
  }
}

function isSecrets(x: unknown): x is DemoSecrets {
  const s = x as Partial<DemoSecrets> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    [s.client, s.cookie, s.appProxy, s.storage].every((v) => typeof v === 'string' && v.length >= 16)
  );
}

/** Opens (or creates) the state directory for these host names. */
export async function openDemoState(dir: string, hosts: string[]): Promise<DemoState> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const path = (name: string) => join(dir, name);
  const made = { ca: false, serverCert: false, secrets: false };

  let caCert = await readText(path('ca.crt'));
  let caKey = await readText(path('ca.key'));
  if (caCert === undefined || caKey === undefined || validFor(caCert) < RENEW_MS) {
    const ca = await createTestCA(`Gatehouse demo CA (${dir})`, { caDays: CA_DAYS });
    caCert = ca.caCert;
    caKey = ca.caKey;
    await writeFile(path('ca.key'), caKey, { mode: 0o600 });
    await writeFile(path('ca.crt'), caCert, { mode: 0o644 });
    made.ca = true;
  }

  let chain = await readText(path('server.crt'));
  let key = await readText(path('server.key'));
  if (made.ca || chain === undefined || key === undefined || !serverCertFits(chain, caCert, hosts)) {
    const leaf = await loadTestCA({ caCert, caKey }, { leafDays: SERVER_DAYS }).issue(hosts);
    // The chain ends with the CA, so a client that trusts the CA's key (not only its name) can match it.
    chain = leaf.cert.trimEnd() + '\n' + caCert;
    key = leaf.key;
    await writeFile(path('server.key'), key, { mode: 0o600 });
    await writeFile(path('server.crt'), chain, { mode: 0o644 });
    made.serverCert = true;
  }

  let secrets: DemoSecrets;
  const kept = await readText(path('secrets.json'));
  const parsed: unknown = kept === undefined ? undefined : JSON.parse(kept);
  if (isSecrets(parsed)) {
    secrets = parsed;
  } else {
    secrets = {
      client: randomBytes(24).toString('base64url'),
      cookie: randomBytes(32).toString('base64'),
      appProxy: randomBytes(24).toString('base64url'),
      storage: randomBytes(32).toString('base64'),
    };
    // A database left from earlier secrets is sealed with a storage key that is gone: start it afresh.
    for (const f of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']) await rm(path(f), { force: true });
    await writeFile(path('secrets.json'), JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
    made.secrets = true;
  }

  return {
    dir,
    caFile: path('ca.crt'),
    tls: { caCert, cert: chain, key },
    secrets,
    dbFile: path('gatehouse.db'),
    made,
  };
}
