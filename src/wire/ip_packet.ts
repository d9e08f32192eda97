/**
 * The length an IP header claims for its packet, checked against the bytes at hand. WireGuard
 * pads plaintext to 16 bytes, so this is what trims the padding off a decrypted packet.
 * (Addresses inside packets: `ipPacketSource`/`ipPacketDestination` in `ip_address.ts`.)
 *
 * @module
 */
import { ipPacketVersion } from "./ip_address.ts";

/** IPv4 header length without options. */
export const IPV4_HEADER_MIN = 20;
/** Fixed IPv6 header length. */
export const IPV6_HEADER = 40;

/** Length the header claims for the whole packet, or null if malformed or longer than `p`. */
export function ipPacketLength(p: Uint8Array): number | null {
  const v = ipPacketVersion(p);
  let len: number;
  if (v === 4 && p.length >= IPV4_HEADER_MIN) len = (p[2]! << 8) | p[3]!;
  else if (v === 6 && p.length >= IPV6_HEADER) len = ((p[4]! << 8) | p[5]!) + IPV6_HEADER;
  else return null;
  if (len > p.length || (v === 4 && len < IPV4_HEADER_MIN)) return null;
  return len;
}
