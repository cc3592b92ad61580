import { AndFilter, EqualityFilter, type Filter, FilterParser, OrFilter, PresenceFilter } from 'ldapts';

/**
 * Filters are built as ldapts filter objects, so a user-supplied value travels to the server as a raw
 * assertion value: it is never spliced into filter text and needs no escaping at all. (Dex escapes
 * twice, which locks out users whose names contain `*()\`.) `toString()` on these objects escapes
 * once per RFC 4515, which is what logs show.
 */

function and(parts: Filter[]): Filter {
  return parts.length === 1 && parts[0] ? parts[0] : new AndFilter({ filters: parts });
}

function or(parts: Filter[]): Filter {
  return parts.length === 1 && parts[0] ? parts[0] : new OrFilter({ filters: parts });
}

function configured(text: string | undefined): Filter[] {
  return text === undefined ? [] : [FilterParser.parseString(text)];
}

/** `(&<configured>(|(attr1=<username>)(attr2=<username>)))`. */
export function userFilter(configuredFilter: string | undefined, usernameAttrs: string[], username: string): Filter {
  const byName = or(usernameAttrs.map((attribute) => new EqualityFilter({ attribute, value: username })));
  return and([...configured(configuredFilter), byName]);
}

/** For a base-scope read of a known entry: the configured filter, or `(objectClass=*)`. */
export function entryFilter(configuredFilter: string | undefined): Filter {
  return configured(configuredFilter)[0] ?? new PresenceFilter({ attribute: 'objectClass' });
}

/** `(&<configured>(<groupAttr>=<value>))`; `value` may be binary (a Buffer). */
export function groupFilter(configuredFilter: string | undefined, groupAttr: string, value: string | Buffer): Filter {
  return and([...configured(configuredFilter), new EqualityFilter({ attribute: groupAttr, value })]);
}
