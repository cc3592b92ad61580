import { z } from '@gatehouse/connector-kit';
import { httpsURL, redirectURI, requiredString, stringList } from '@gatehouse/connector-kit';

/** Tenant path values that are not one directory: the issuer of each token names the user's tenant. */
export const MULTI_TENANT = ['common', 'organizations', 'consumers'] as const;
/** The tenant of personal Microsoft accounts (MSA). */
export const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Scopes that let `/me/getMemberGroups` and `/directoryObjects/getByIds` read groups. */
export const GROUP_READ_SCOPES = ['directory.read.all', 'directory.readwrite.all'];
/** Scopes that let `/me` be read. */
export const USER_READ_SCOPES = [
  'user.read',
  'user.readwrite',
  'user.readbasic.all',
  'user.read.all',
  'directory.read.all',
];

/** The `config` block of a `type: microsoft` connector: Dex's keys, plus `allowedTenants` and `timeoutSeconds`. */
export const configSchema = z
  .object({
    clientID: requiredString('clientID'),
    clientSecret: requiredString('clientSecret'),
    /** Must equal the issuer's callback URL when set (Dex compatibility). */
    redirectURI: redirectURI().optional(),
    tenant: z
      .string({ error: 'must be a string' })
      .default('common')
      .refine((t) => (MULTI_TENANT as readonly string[]).includes(t) || GUID.test(t) || DOMAIN.test(t), {
        error: 'must be common, organizations, consumers, a tenant id (GUID) or a verified domain name',
      }),
    onlySecurityGroups: z.boolean({ error: 'must be true or false' }).default(false),
    groups: stringList().default([]),
    useGroupsAsWhitelist: z.boolean({ error: 'must be true or false' }).default(false),
    emailToLowercase: z.boolean({ error: 'must be true or false' }).default(false),
    groupNameFormat: z.enum(['name', 'id'], { error: 'must be "name" or "id"' }).default('name'),
    promptType: z
      .enum(['login', 'none', 'consent', 'select_account'], { error: 'must be login, none, consent or select_account' })
      .optional(),
    domainHint: z.string().min(1).optional(),
    /** Replaces the default `User.Read`. `Directory.Read.All` is added when groups are needed. */
    scopes: stringList().optional(),
    apiURL: httpsURL({ allowLoopbackHttp: false }).default('https://login.microsoftonline.com'),
    graphURL: httpsURL({ allowLoopbackHttp: false }).default('https://graph.microsoft.com'),
    preferredUsernameField: z
      .enum(['name', 'email', 'mailNickname', 'onPremisesSamAccountName'], {
        error: 'must be name, email, mailNickname or onPremisesSamAccountName',
      })
      .optional(),
    /** Dex batches getByIds on request; Gatehouse always does (≤ 1000 ids a call). Accepted for compatibility. */
    batchGroupLookups: z.boolean({ error: 'must be true or false' }).optional(),
    /** Ours: tenant ids (tid) allowed to sign in when `tenant` is common/organizations. Empty: any tenant. */
    allowedTenants: z
      .array(z.string().regex(GUID, { error: 'entries must be tenant ids (GUIDs)' }), {
        error: 'must be a list of tenant ids',
      })
      .transform((l) => [...new Set(l.map((t) => t.toLowerCase()))])
      .default([]),
    /** Ours: bound on every upstream request (token endpoint, keys, Graph). */
    timeoutSeconds: z.number({ error: 'must be a number of seconds' }).positive().max(120).default(10),
  })
  .strict();

export type MicrosoftConfig = z.output<typeof configSchema>;

export function isMultiTenant(config: MicrosoftConfig): boolean {
  return (MULTI_TENANT as readonly string[]).includes(config.tenant);
}

/** Start-up warnings for settings that parse but cannot be enforced as the admin probably expects. */
export function warnings(config: MicrosoftConfig): string[] {
  const out: string[] = [];
  if (config.tenant === 'consumers' && config.groups.length > 0) {
    out.push(
      'groups: personal Microsoft accounts (tenant consumers) have no groups, so every sign-in will be refused (not_in_required_groups).',
    );
  }
  if ((config.tenant === 'common' || config.tenant === 'organizations') && config.allowedTenants.length === 0) {
    out.push(
      `tenant ${config.tenant}: users of ANY Entra ID tenant can sign in; set allowedTenants to the tenant ids you trust.`,
    );
  }
  if (!isMultiTenant(config) && config.allowedTenants.length > 0) {
    out.push('allowedTenants: has no effect with a single tenant; only that tenant can sign in.');
  }
  if (config.useGroupsAsWhitelist && config.groups.length === 0) {
    out.push('useGroupsAsWhitelist: has no effect without groups; every group of the user is returned.');
  }
  if (config.scopes) {
    const lower = config.scopes.map((s) => s.toLowerCase());
    if (!lower.some((s) => USER_READ_SCOPES.includes(s) || s.endsWith('/.default'))) {
      out.push('scopes: none of them lets Graph /me be read (User.Read); every sign-in will fail.');
    }
    if (config.groups.length > 0 && !lower.some((s) => GROUP_READ_SCOPES.includes(s))) {
      out.push(
        lower.some((s) => s.endsWith('/.default'))
          ? 'scopes: with a /.default scope nothing can be added: unless the app registration has Directory.Read.All granted, groups cannot be read and every sign-in will be refused.'
          : 'scopes: Directory.Read.All is added to the configured scopes because groups are required; the app registration needs that permission (admin consent).',
      );
    }
  }
  return out;
}
