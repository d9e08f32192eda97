/**
 * Tunnel addresses for new clients: per address family of the server's `Address` lines, the
 * lowest host address in that prefix that is not the network address, the IPv4 broadcast, one of
 * the server's own addresses, or inside any peer's AllowedIPs.
 *
 * @module
 */
import {
  type Cidr,
  cidrContains,
  cidrOverlaps,
  formatCidr,
  ipEquals,
  maskAddress,
} from "../wire/ip_address.ts";

/** Most candidates tried per prefix (an IPv6 /64 is not scanned to its end). */
const MAX_SCAN = 65_536;

/** Thrown when a prefix has no free address left. */
export class AddressPoolFullError extends Error {
  /** Creates the error for `prefix`. */
  constructor(prefix: string) {
    super(`tunnel range ${prefix} has no free address left`);
    this.name = "AddressPoolFullError";
  }
}

/** `base + n` as an address of the same length (big-endian addition, wrapping). */
export function addToAddress(base: Uint8Array, n: number): Uint8Array {
  const out = base.slice();
  let carry = n;
  for (let i = out.length - 1; i >= 0 && carry > 0; i--) {
    const sum = (out[i] as number) + (carry % 256);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return out;
}

/**
 * One free host address (as a full-length prefix) per server prefix in `serverAddresses`, avoiding
 * the server's addresses and everything in `taken`. Throws {@link AddressPoolFullError}.
 */
export function allocateAddresses(
  serverAddresses: readonly Cidr[],
  taken: readonly Cidr[],
): Cidr[] {
  const out: Cidr[] = [];
  const families = new Set<number>();
  for (const server of serverAddresses) {
    const len = server.addr.length;
    if (families.has(len)) continue; // one address per family
    families.add(len);
    const hostBits = len * 8 - server.bits;
    const size = hostBits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** hostBits;
    const network = maskAddress(server.addr, server.bits);
    const last = len === 4 ? size - 1 : size; // IPv4 broadcast excluded
    const limit = Math.min(last, MAX_SCAN);
    let found: Cidr | undefined;
    for (let n = 1; n < limit; n++) {
      const addr = addToAddress(network, n);
      const cidr: Cidr = { addr, bits: len * 8 };
      if (serverAddresses.some((s) => s.addr.length === len && ipEquals(s.addr, addr))) continue;
      if (taken.some((t) => cidrOverlaps(t, cidr))) continue;
      found = cidr;
      break;
    }
    if (found === undefined) {
      throw new AddressPoolFullError(formatCidr({ addr: network, bits: server.bits }));
    }
    out.push(found);
  }
  return out;
}

/** Whether `addr` lies in one of the server's tunnel prefixes. */
export function inTunnel(serverAddresses: readonly Cidr[], addr: Uint8Array): boolean {
  return serverAddresses.some((s) =>
    cidrContains({ addr: maskAddress(s.addr, s.bits), bits: s.bits }, addr)
  );
}
