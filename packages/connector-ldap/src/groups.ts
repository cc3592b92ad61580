import type { ConnectorLogger } from '@gatehouse/connector-kit';
import { type Client, type Entry, ResultCodeError } from 'ldapts';
import type { LdapConfig, UserMatcher } from './config.ts';
import { ResultCodes } from './connection.ts';
import { first, isBinaryAttribute, values } from './entry.ts';
import { groupFilter } from './filters.ts';

type GroupSearch = NonNullable<LdapConfig['groupSearch']>;

/** Upper bound on searches for one user, whatever the directory's shape (wide or deep nesting). */
const MAX_GROUP_SEARCHES = 256;

interface Pending {
  matcher: UserMatcher;
  value: string | Buffer;
  depth: number;
}

/**
 * The names of the groups the user belongs to: direct groups found by each `userMatchers` entry, then,
 * for a matcher with `recursionGroupAttr`, the groups that list those groups (breadth first, at most
 * `maxNestingDepth` levels, each group visited once so membership cycles end).
 */
export async function resolveGroups(
  client: Client,
  gs: GroupSearch,
  user: Entry,
  log: ConnectorLogger,
): Promise<string[]> {
  const queue: Pending[] = gs.userMatchers.flatMap((matcher) =>
    values(user, matcher.userAttr).map((value) => ({ matcher, value, depth: 0 })),
  );
  const seenGroups = new Map<string, string | undefined>(); // DN (lower case) → name
  const seenQueries = new Set<string>();
  let searches = 0;

  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const { matcher, value, depth } = item;
    const key = `${matcher.groupAttr.toLowerCase()}\0${Buffer.isBuffer(value) ? value.toString('base64') : value.toLowerCase()}`;
    if (seenQueries.has(key)) continue;
    seenQueries.add(key);
    if (++searches > MAX_GROUP_SEARCHES) {
      log.warn(
        { searches: MAX_GROUP_SEARCHES },
        'ldap: group resolution stopped at its search limit; groups may be incomplete',
      );
      break;
    }

    const recursion = depth < gs.maxNestingDepth ? matcher.recursionGroupAttr : undefined;
    const attributes = [gs.nameAttr, ...(recursion !== undefined && recursion !== 'DN' ? [recursion] : [])];
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await client.search(gs.baseDN, {
        scope: gs.scope,
        filter: groupFilter(gs.filter, matcher.groupAttr, value),
        attributes,
        explicitBufferAttributes: attributes.filter(isBinaryAttribute),
      }));
    } catch (e) {
      if (e instanceof ResultCodeError && e.code === ResultCodes.NoSuchObject) return []; // as Dex: no base, no groups
      throw e;
    }

    for (const group of entries) {
      const dnKey = group.dn.toLowerCase();
      if (seenGroups.has(dnKey)) continue;
      const name = first(group, gs.nameAttr);
      if (name === undefined)
        log.warn({ group: group.dn, nameAttr: gs.nameAttr }, 'ldap: group has no name attribute; skipped');
      seenGroups.set(dnKey, name);
      if (recursion !== undefined) {
        for (const parentValue of values(group, recursion))
          queue.push({ matcher, value: parentValue, depth: depth + 1 });
      }
    }
  }

  return [...new Set([...seenGroups.values()].filter((n): n is string => n !== undefined))];
}
