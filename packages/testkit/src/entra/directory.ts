import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FakeEntraClient, FakeEntraGroup, FakeEntraOptions, FakeEntraUser } from './types.ts';

/** A user with every default filled in. */
export interface DirectoryUser extends Required<
  Omit<FakeEntraUser, 'mail' | 'mailNickname' | 'onPremisesSamAccountName' | 'emailDomainOwnerVerified'>
> {
  emailDomainOwnerVerified: boolean;
  mail: string | null;
  mailNickname?: string;
  onPremisesSamAccountName?: string;
}

/** A pending authorize request, between the login form and the code. */
export interface PendingLogin {
  tenant: string;
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  nonce: string | undefined;
  scope: string;
  codeChallenge: string | undefined;
  codeChallengeMethod: string | undefined;
  responseMode: 'query' | 'form_post';
  expiresAt: number;
}

export interface IssuedCode {
  login: PendingLogin;
  oid: string;
  expiresAt: number;
}

export interface IssuedGrant {
  oid: string;
  clientId: string;
  scope: string;
  /** Bumped by revokeTokens: older grants stop working. */
  generation: number;
}

export interface IssuedAccessToken extends IssuedGrant {
  expiresAt: number;
}

export function secretEquals(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

export function randomToken(prefix: string): string {
  return `${prefix}.${randomBytes(24).toString('base64url')}`;
}

/** The fake's directory: users, groups, app registrations and everything issued. */
export class Directory {
  readonly tenantId: string;
  readonly users = new Map<string, DirectoryUser>();
  readonly groups = new Map<string, Required<FakeEntraGroup>>();
  readonly clients = new Map<string, FakeEntraClient>();
  readonly pending = new Map<string, PendingLogin>();
  readonly codes = new Map<string, IssuedCode>();
  readonly refreshTokens = new Map<string, IssuedGrant>();
  readonly accessTokens = new Map<string, IssuedAccessToken>();
  readonly generations = new Map<string, number>();

  constructor(options: FakeEntraOptions) {
    this.tenantId = options.tenantId ?? randomUUID();
    for (const u of options.users) this.addUser(u);
    this.addGroups(options.groups ?? []);
    for (const c of options.clients) this.clients.set(c.clientId, c);
  }

  addUser(u: FakeEntraUser): DirectoryUser {
    const user: DirectoryUser = {
      oid: u.oid ?? randomUUID(),
      tid: u.tid ?? this.tenantId,
      userPrincipalName: u.userPrincipalName,
      password: u.password,
      displayName: u.displayName,
      mail: u.mail ?? null,
      groups: [...(u.groups ?? [])],
      emailDomainOwnerVerified: u.emailDomainOwnerVerified ?? false,
      ...(u.mailNickname !== undefined ? { mailNickname: u.mailNickname } : {}),
      ...(u.onPremisesSamAccountName !== undefined ? { onPremisesSamAccountName: u.onPremisesSamAccountName } : {}),
    };
    this.users.set(user.oid, user);
    return user;
  }

  addGroups(groups: FakeEntraGroup[]): void {
    for (const g of groups) {
      this.groups.set(g.id, {
        id: g.id,
        displayName: g.displayName,
        securityEnabled: g.securityEnabled ?? true,
        memberOf: [...(g.memberOf ?? [])],
      });
    }
  }

  /** Tenants this fake answers for: its own and every user's home tenant. */
  knownTenants(): Set<string> {
    const set = new Set([this.tenantId]);
    for (const u of this.users.values()) set.add(u.tid);
    return set;
  }

  findByLogin(loginName: string): DirectoryUser | undefined {
    const wanted = loginName.trim().toLowerCase();
    for (const u of this.users.values()) if (u.userPrincipalName.toLowerCase() === wanted) return u;
    return undefined;
  }

  generation(oid: string): number {
    return this.generations.get(oid) ?? 0;
  }

  revoke(oid: string): void {
    this.generations.set(oid, this.generation(oid) + 1);
  }

  /** Transitive group ids of a user (direct groups and every group they are nested in). */
  memberGroups(oid: string, securityEnabledOnly: boolean): string[] {
    const user = this.users.get(oid);
    if (!user) return [];
    const seen = new Set<string>();
    const queue = [...user.groups];
    while (queue.length > 0) {
      const id = queue.shift() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const parent of this.groups.get(id)?.memberOf ?? []) queue.push(parent);
    }
    return [...seen].filter((id) => {
      const g = this.groups.get(id);
      return g !== undefined && (!securityEnabledOnly || g.securityEnabled);
    });
  }
}
