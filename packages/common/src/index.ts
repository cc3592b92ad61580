export { parseDuration, parseDurationMs } from './duration.ts';
export { AddressList, addressFamily, parseCIDR, unmapIPv4, type AddressFamily, type CIDR } from './ip.ts';
export { isRecord } from './guards.ts';
