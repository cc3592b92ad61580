/**
 * IP addresses and CIDR ranges in configuration (the issuer's `web.trustedProxies`,
 * forward-auth's `trusted_proxy_ips`): one grammar for validating them at load and one matcher for
 * checking a peer against them at run time, so what was accepted is what is matched.
 */
import { BlockList, isIP } from 'node:net';

export type AddressFamily = 'ipv4' | 'ipv6';

/** One entry: an address (`prefix` undefined) or a range. */
export interface CIDR {
  address: string;
  family: AddressFamily;
  prefix?: number;
}

export function addressFamily(ip: string): AddressFamily | undefined {
  const v = isIP(ip);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** `10.0.0.0/8`, `::1`, `fd00::/8`; undefined for anything else (host names, `/33`, `1.2.3.4/8/9`). */
export function parseCIDR(text: string): CIDR | undefined {
  const [address = '', bits, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const family = addressFamily(address);
  if (family === undefined) return undefined;
  if (bits === undefined) return { address, family };
  if (!/^[0-9]{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  return prefix <= (family === 'ipv4' ? 32 : 128) ? { address, family, prefix } : undefined;
}

/** `::ffff:a.b.c.d` → `a.b.c.d`, so a dual-stack socket's peer reads as the IPv4 it is. */
export function unmapIPv4(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * A set of addresses and ranges. Entries that do not parse are skipped, never trusted (they are
 * refused at config load). BlockList compares IPv6 numerically (`::1` = `0:0:0:0:0:0:0:1`) and
 * matches IPv4-mapped addresses against IPv4 rules and back.
 */
export class AddressList {
  readonly #list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const c = parseCIDR(entry.trim());
      if (c === undefined) continue;
      if (c.prefix === undefined) this.#list.addAddress(c.address, c.family);
      else this.#list.addSubnet(c.address, c.prefix, c.family);
    }
  }

  /** Whether `address` (a socket's peer, possibly `::ffff:`-mapped) is in the list. */
  has(address: string | undefined): boolean {
    if (!address) return false;
    const ip = unmapIPv4(address);
    const family = addressFamily(ip);
    if (family === undefined) return false;
    try {
      return this.#list.check(ip, family);
    } catch {
      return false; // e.g. a scoped address (`fe80::1%eth0`) BlockList cannot parse
    }
  }
}
