/** Public types of the fake Microsoft Entra ID + Microsoft Graph. */

export interface FakeEntraUser {
  /** Object id (Graph `id`, token `oid`). Default: a random GUID. */
  oid?: string;
  /** Home tenant. Default: the fake's `tenantId`. */
  tid?: string;
  /** Sign-in name typed into the login form (`loginfmt`). */
  userPrincipalName: string;
  password: string;
  displayName: string;
  /** Graph `mail`; `null`/absent for accounts without a mailbox. */
  mail?: string | null;
  mailNickname?: string;
  onPremisesSamAccountName?: string;
  /** Ids of the groups the user is a direct member of. */
  groups?: string[];
  /** Emit the optional claim `xms_edov: true` (email domain verified by its owner). */
  emailDomainOwnerVerified?: boolean;
}

export interface FakeEntraGroup {
  id: string;
  displayName: string;
  /** Default true. `getMemberGroups {securityEnabledOnly: true}` returns only these. */
  securityEnabled?: boolean;
  /** Ids of groups this group is a member of (nesting; resolved transitively). */
  memberOf?: string[];
}

export interface FakeEntraClient {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs, matched exactly. */
  redirectUris: string[];
}

export interface FakeEntraOptions {
  /** The directory's tenant id. Default: a random GUID. */
  tenantId?: string;
  users: FakeEntraUser[];
  groups?: FakeEntraGroup[];
  clients: FakeEntraClient[];
  /** Items per Graph page before `@odata.nextLink` (getMemberGroups, getByIds). Default 100. */
  graphPageSize?: number;
  /** Lifetime of issued access tokens in seconds. Default 3600. */
  accessTokenSeconds?: number;
}

/** Which endpoint a fault applies to. */
export type FakeEntraEndpoint = 'discovery' | 'keys' | 'authorize' | 'token' | 'graph' | 'all';

/** A fault injected into matching requests. */
export interface FakeEntraFault {
  where: FakeEntraEndpoint;
  /** Answer with this HTTP status (429, 500, 503...). */
  status?: number;
  /** `Retry-After` header (seconds) on that answer. */
  retryAfter?: number;
  /** Never answer (the connection stays open until the fake closes). */
  hang?: boolean;
  /** Wait this long before answering normally. */
  delayMs?: number;
  /**
   * An OAuth error: for `authorize`, the browser is redirected back with `error`/`error_description`
   * after the form; for `token`, a 400 JSON error. `code` is the AADSTS number.
   */
  oauthError?: { error: string; code: number; description: string };
  /** Apply to this many requests, then stop. Default: until cleared. */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string (never logs codes or tokens). */
  path: string;
  /** Graph request bodies' id counts etc. for assertions: getByIds → number of ids asked. */
  idsRequested?: number;
}

export interface FakeEntra {
  /** Origin of the fake, e.g. `https://127.0.0.1:43123` (the connector's `apiURL`). */
  url: string;
  /** `${url}/${tenantId}`. */
  authority: string;
  /** Graph base (the connector's `graphURL`); same origin as `url`. */
  graphURL: string;
  tenantId: string;
  /** The fake's CA certificate (PEM): trust it (`trustInThisProcess`, `NODE_EXTRA_CA_CERTS`). */
  caCert: string;
  /** `caCert` written to a file (removed by `close`), for `NODE_EXTRA_CA_CERTS` of a child process. */
  caFile: string;
  /** Chromium flags that make the browser trust this fake's certificate only. */
  chromiumArgs: string[];
  /** `${url}/${tid}/v2.0`: the `iss` of id tokens for users of tenant `tid`. */
  issuerFor(tid: string): string;
  /** Adds the fake's CA to this process's default trust store (fetch, https). */
  trustInThisProcess(): void;
  /** The oid of a user by `userPrincipalName`. */
  oidOf(userPrincipalName: string): string;
  setFault(fault: FakeEntraFault): void;
  /** Clears faults (and `setNextLinkOrigin`). */
  clearFaults(): void;
  /** Makes Graph's `@odata.nextLink` point at another origin (a hostile or broken Graph). */
  setNextLinkOrigin(origin: string | undefined): void;
  /** Stop listening (connection refused) or listen again on the same port. */
  setDown(down: boolean): Promise<void>;
  /** Invalidates every refresh and access token of the user (AADSTS50173 on refresh). */
  revokeTokens(oid: string): void;
  /** Deletes the user (AADSTS50034 on refresh, 404 from Graph). Returns a restore function. */
  removeUser(oid: string): () => void;
  /** Replaces the user's direct group memberships. */
  setUserGroups(oid: string, groupIds: string[]): void;
  /** Registers (or replaces) an app registration, e.g. once the issuer's callback URL is known. */
  registerClient(client: FakeEntraClient): void;
  /** Adds groups to the directory. */
  addGroups(groups: FakeEntraGroup[]): void;
  /** Requests received so far (no secrets). */
  readonly requests: RecordedRequest[];
  /**
   * Plays the browser: GET `loginURL` (the authorize URL), fill in and post the login form, and
   * return the URL the fake redirects to (the `redirect_uri` with `code`/`state`, or `error`).
   */
  signIn(loginURL: string, credentials: { username: string; password: string }): Promise<URL>;
  close(): Promise<void>;
}
