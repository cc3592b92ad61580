import { readFileSync } from 'node:fs';
import { caData } from '@gatehouse/connector-kit';
import { FilterParser } from 'ldapts';
import { z } from '@gatehouse/connector-kit';

/** An LDAP attribute description: a name or OID, with options (`userCertificate;binary`). */
const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;

function attribute(what: string) {
  return z
    .string({ error: `must be an attribute name (${what})` })
    .regex(ATTRIBUTE, { error: `must be an LDAP attribute name such as "uid" (${what})` });
}

/** Object-level message; unknown keys are named so a Dex option we do not support is never silently ignored. */
function objectError(expected: string) {
  return (issue: { code?: string; keys?: string[] }): string =>
    issue.code === 'unrecognized_keys' && issue.keys ? `unsupported key(s): ${issue.keys.join(', ')}` : expected;
}

/** Cross-field checks also run when a field failed, so every problem is reported at once. */
const alwaysCheck = {
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null,
};

/** `DN` (any case) means "the entry's distinguished name", as in Dex. */
function attributeOrDN(what: string) {
  return z.union(
    [
      z
        .string()
        .regex(/^dn$/i)
        .transform(() => 'DN' as const),
      attribute(what),
    ],
    {
      error: `must be "DN" or an LDAP attribute name (${what})`,
    },
  );
}

/** A distinguished name. Checked only for being non-empty: the server is the judge of DN syntax. */
function dn(what: string) {
  return z
    .string({ error: `must be a DN string (${what})` })
    .trim()
    .min(1, { error: `must not be empty (${what})` });
}

/** An RFC 4515 filter written by the operator (trusted, but parsed now so a typo fails at start-up). */
const filter = z
  .string({ error: 'must be an LDAP filter string such as "(objectClass=person)"' })
  .trim()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value === '') return undefined;
    try {
      FilterParser.parseString(value);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `is not a valid LDAP filter: ${(e as Error).message}` });
      return z.NEVER;
    }
    return value.startsWith('(') ? value : `(${value})`;
  });

const scope = z
  .enum(['sub', 'one'], { error: 'must be "sub" (whole subtree) or "one" (direct children)' })
  .default('sub');

/** Go-style durations Dex users know: `500ms`, `5s`, `1m`. Output: milliseconds. */
function duration(fallbackMs: number) {
  return z
    .union([z.string(), z.number()], { error: 'must be a duration such as "5s" or "500ms"' })
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return fallbackMs;
      if (typeof value === 'number') {
        ctx.addIssue({ code: 'custom', message: 'must be a duration string with a unit, such as "5s"' });
        return z.NEVER;
      }
      const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim());
      const unit = m?.[2] === 'ms' ? 1 : m?.[2] === 's' ? 1000 : 60_000;
      const ms = m ? Math.round(Number(m[1]) * unit) : Number.NaN;
      if (!(ms >= 100 && ms <= 300_000)) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration between 100ms and 5m, such as "5s"; got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

const userMatcher = z.strictObject(
  {
    userAttr: attributeOrDN('userAttr'),
    groupAttr: attribute('groupAttr'),
    /** Nested groups: the attribute of a group that its parent groups list in `groupAttr` (usually `DN`). */
    recursionGroupAttr: attributeOrDN('recursionGroupAttr').optional(),
  },
  { error: objectError('must be an object {userAttr, groupAttr, recursionGroupAttr?}') },
);
export type UserMatcher = z.output<typeof userMatcher>;

const userSearch = z.strictObject(
  {
    baseDN: dn('the subtree holding users'),
    filter,
    /** One attribute or several (any of them may equal the login name). */
    username: z
      .union(
        [attribute('username'), z.array(attribute('username')).min(1, { error: 'must list at least one attribute' })],
        {
          error: 'must be an attribute name or a list of them, such as "uid" or ["uid", "mail"]',
        },
      )
      .transform((v) => (Array.isArray(v) ? [...new Set(v)] : [v])),
    scope,
    idAttr: attributeOrDN('idAttr').default('uid'),
    emailAttr: attribute('emailAttr').default('mail'),
    nameAttr: attribute('nameAttr').default('cn'),
    preferredUsernameAttr: attribute('preferredUsernameAttr').optional(),
    emailSuffix: z
      .string()
      .regex(/^[^@\s]+$/, { error: 'must be a domain without "@", such as "example.com"' })
      .optional(),
  },
  { error: objectError('must be an object with at least baseDN and username') },
);

const groupSearch = z
  .strictObject(
    {
      baseDN: dn('the subtree holding groups'),
      filter,
      scope,
      userMatchers: z.array(userMatcher, { error: 'must be a list of {userAttr, groupAttr}' }).optional(),
      /** Dex's deprecated single-matcher form. */
      userAttr: attributeOrDN('userAttr').optional(),
      groupAttr: attribute('groupAttr').optional(),
      recursionGroupAttr: attributeOrDN('recursionGroupAttr').optional(),
      nameAttr: attribute('nameAttr').default('cn'),
      /** Gatehouse addition: how many levels of parent groups nested-group resolution follows. */
      maxNestingDepth: z.number().int().min(1).max(32, { error: 'must be at most 32' }).default(10),
    },
    { error: objectError('must be an object with at least baseDN and userMatchers') },
  )
  .superRefine((g, ctx) => {
    const legacy = g.userAttr !== undefined || g.groupAttr !== undefined;
    if (legacy && (g.userAttr === undefined || g.groupAttr === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [g.userAttr === undefined ? 'userAttr' : 'groupAttr'],
        message: 'userAttr and groupAttr must be set together',
      });
    }
    if (legacy && g.userMatchers !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['userMatchers'],
        message: 'set userMatchers or the legacy userAttr/groupAttr, not both',
      });
    }
    if (!legacy && (g.userMatchers === undefined || g.userMatchers.length === 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['userMatchers'],
        message: 'must list at least one {userAttr, groupAttr} matcher',
      });
    }
  }, alwaysCheck)
  .transform(({ userAttr, groupAttr, recursionGroupAttr, userMatchers, ...rest }) => ({
    ...rest,
    userMatchers:
      userMatchers ??
      (userAttr !== undefined && groupAttr !== undefined ? [{ userAttr, groupAttr, recursionGroupAttr }] : []),
  }));

/** PEM read from a file named in the config (rootCA, clientCert, clientKey). */
function pemFile(what: string) {
  return z
    .string({ error: `must be a file path (${what})` })
    .min(1, { error: `must not be empty (${what})` })
    .transform((path, ctx) => {
      try {
        const text = readFileSync(path, 'utf8');
        if (!text.includes('-----BEGIN')) throw new Error('no PEM block');
        return text;
      } catch (e) {
        ctx.addIssue({
          code: 'custom',
          message: `cannot read a PEM ${what} from ${JSON.stringify(path)}: ${(e as Error).message}`,
        });
        return z.NEVER;
      }
    });
}

/** `host[:port]` as Dex takes it (no scheme). */
const host = z
  .string({ error: 'must be "host" or "host:port", such as "ldap.example.com:636"' })
  .trim()
  .transform((value, ctx) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(value);
    if (!m?.[1]) {
      ctx.addIssue({
        code: 'custom',
        message: value.includes('://')
          ? 'must be "host" or "host:port" without a scheme; use insecureNoSSL/startTLS to choose the protocol'
          : `must be "host" or "host:port", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    const port = m[2] === undefined ? undefined : Number(m[2]);
    if (port !== undefined && (port < 1 || port > 65535)) {
      ctx.addIssue({ code: 'custom', message: `port must be 1-65535, got ${port}` });
      return z.NEVER;
    }
    return { hostname: m[1].replace(/^\[|\]$/g, ''), port };
  });

export const ldapConfigSchema = z
  .strictObject(
    {
      host,
      insecureNoSSL: z.boolean({ error: 'must be true or false' }).default(false),
      insecureSkipVerify: z.boolean({ error: 'must be true or false' }).default(false),
      startTLS: z.boolean({ error: 'must be true or false' }).default(false),
      rootCA: pemFile('CA certificate').optional(),
      rootCAData: caData().optional(),
      clientCert: pemFile('client certificate').optional(),
      clientKey: pemFile('client key').optional(),
      bindDN: z.string({ error: 'must be a DN string' }).optional(),
      bindPW: z.string({ error: 'must be a string' }).optional(),
      usernamePrompt: z.string({ error: 'must be a string' }).min(1).default('Username'),
      userSearch,
      groupSearch: groupSearch.optional(),
      /** Gatehouse additions (Dex has none): TCP+TLS connect and per-operation timeouts. */
      connectTimeout: duration(5_000),
      requestTimeout: duration(10_000),
    },
    { error: objectError('must be an object with at least host and userSearch') },
  )
  .superRefine((c, ctx) => {
    if ((c.bindDN ?? '') === '' && (c.bindPW ?? '') !== '') {
      ctx.addIssue({ code: 'custom', path: ['bindDN'], message: 'bindPW is set but bindDN is empty' });
    }
    if ((c.bindDN ?? '') !== '' && (c.bindPW ?? '') === '') {
      // An empty password would make the service bind an unauthenticated (anonymous) bind.
      ctx.addIssue({ code: 'custom', path: ['bindPW'], message: 'must be set when bindDN is set' });
    }
    if ((c.clientCert === undefined) !== (c.clientKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.clientCert === undefined ? 'clientCert' : 'clientKey'],
        message: 'clientCert and clientKey must be set together',
      });
    }
  }, alwaysCheck);

export type LdapConfigInput = z.input<typeof ldapConfigSchema>;
export type LdapConfig = z.output<typeof ldapConfigSchema>;

/** Start-up warnings for settings that parse but weaken security. */
export function configWarnings(c: LdapConfig): string[] {
  const out: string[] = [];
  if (c.insecureNoSSL && !c.startTLS) {
    out.push('insecureNoSSL is set without startTLS: user passwords are sent to the LDAP server in clear text');
  }
  if (c.insecureSkipVerify && (!c.insecureNoSSL || c.startTLS)) {
    out.push(
      "insecureSkipVerify is set: the LDAP server's TLS certificate is not verified, so anyone on the path can impersonate it and read passwords",
    );
  }
  if ((c.bindDN ?? '') === '') out.push('no bindDN: users and groups are searched with an anonymous bind');
  return out;
}
