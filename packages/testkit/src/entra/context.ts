import type { SignJWT } from 'jose';
import type { JWK } from 'jose';
import type { Directory } from './directory.ts';
import type { FakeEntraFault, RecordedRequest } from './types.ts';

/** What every endpoint of the fake reads: the directory, the signing key, faults and settings. */
export interface HandlerOptions {
  directory: Directory;
  signingKey: Parameters<SignJWT['sign']>[0];
  kid: string;
  publicJwk: JWK;
  baseURL: () => string;
  faults: Array<FakeEntraFault & { remaining: number }>;
  requests: RecordedRequest[];
  graphPageSize: number;
  accessTokenSeconds: number;
  /** When set, `@odata.nextLink` points at this origin instead of the fake (a hostile Graph). */
  nextLinkOrigin: { value: string | undefined };
}
