// Validation of post-login and post-logout redirects (`rd`). A redirect is either a same-origin path that no
// browser or proxy can turn into a protocol-relative URL, or an absolute http(s) URL to a whitelisted host.

const MAX_LENGTH = 4096;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
// A slash, then nothing, whitespace, "." or "..", then a slash (either kind): `//`, `/\`, `/ /`, `/./`, `/../`.
const SLASH_TRICK = /[/\\](?:[\s\v\x00-\x1f]*|\.{1,2})[/\\]/;
const CONTROL = /[\x00-\x1f\x7f\\]/;
const AUTHORITY = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

export interface HostRule {
  readonly host: string;
  /** `.example.com` and `*.example.com` also admit any subdomain. */
  readonly subdomains: boolean;
  /** undefined: only the scheme's default port; '*': any port; otherwise that port. */
  readonly port: string | undefined;
}

export function parseHostRule(entry: string): HostRule {
  let rest = entry.trim().toLowerCase();
  let subdomains = false;
  if (rest.startsWith('*.')) {
    subdomains = true;
    rest = rest.slice(2);
  } else if (rest.startsWith('.')) {
    subdomains = true;
    rest = rest.slice(1);
  }
  let port: string | undefined;
  const m = /^(.*?):(\d{1,5}|\*)$/.exec(rest);
  if (m !== null && !(rest.startsWith('[') && !rest.includes(']:'))) {
    rest = m[1] as string;
    port = m[2];
  }
  return { host: rest.replace(/\.$/, ''), subdomains, port };
}

/** Whether `hostname` is the rule's host, or a subdomain of it on a label boundary when the rule allows that. */
export function hostMatches(hostname: string, rule: HostRule): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (h === rule.host) return true;
  return rule.subdomains && h.endsWith(`.${rule.host}`);
}

/** Percent-decoded layers of `s` (the string itself first), or undefined when an encoding is malformed. */
function decodedLayers(s: string): string[] | undefined {
  const layers = [s];
  let current = s;
  for (let i = 0; i < 4 && current.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return undefined;
    }
    if (next === current) break;
    layers.push(next);
    current = next;
  }
  return layers;
}

export class RedirectValidator {
  readonly #rules: readonly HostRule[];

  constructor(whitelistDomains: readonly string[]) {
    this.#rules = whitelistDomains.map(parseHostRule);
  }

  /** `rd` when it is a safe redirect, otherwise `fallback`. */
  sanitize(rd: unknown, fallback = '/'): string {
    return typeof rd === 'string' && this.isValid(rd) ? rd : fallback;
  }

  isValid(rd: string): boolean {
    if (rd.length === 0 || rd.length > MAX_LENGTH || !PRINTABLE_ASCII.test(rd) || rd.includes('\\')) return false;
    if (rd.startsWith('/')) return this.#validPath(rd);
    if (/^https?:\/\//i.test(rd)) return this.#validAbsolute(rd);
    return false;
  }

  #validPath(rd: string): boolean {
    const end = rd.search(/[?#]/);
    const path = end === -1 ? rd : rd.slice(0, end);
    const layers = decodedLayers(path);
    if (layers === undefined) return false;
    for (const layer of layers) {
      if (!layer.startsWith('/') || layer.startsWith('//') || CONTROL.test(layer) || SLASH_TRICK.test(layer))
        return false;
      if (/\/\.{1,2}$/.test(layer)) return false;
    }
    // Whatever a URL parser makes of it, it must stay on the origin it is resolved against.
    try {
      return new URL(rd, 'https://origin.invalid').host === 'origin.invalid';
    } catch {
      return false;
    }
  }

  #validAbsolute(rd: string): boolean {
    const afterScheme = rd.indexOf('//') + 2;
    const authorityEnd = rd.slice(afterScheme).search(/[/?#]/);
    const authority = authorityEnd === -1 ? rd.slice(afterScheme) : rd.slice(afterScheme, afterScheme + authorityEnd);
    // No userinfo, no percent-encoding, nothing a parser could read differently from a plain host[:port].
    if (!AUTHORITY.test(authority)) return false;
    let url: URL;
    try {
      url = new URL(rd);
    } catch {
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (url.username !== '' || url.password !== '') return false;
    const rawHost = authority.toLowerCase();
    const defaultPort = DEFAULT_PORT[url.protocol] as string;
    if (rawHost !== url.host && rawHost !== `${url.host}:${defaultPort}`) return false;
    return this.#rules.some((rule) => {
      if (!hostMatches(url.hostname, rule)) return false;
      if (rule.port === '*') return true;
      if (rule.port === undefined) return url.port === '';
      return (url.port === '' ? defaultPort : url.port) === rule.port;
    });
  }
}
