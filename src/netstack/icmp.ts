/**
 * ICMP destination-unreachable kinds and the quoted packet an ICMP error carries.
 * Echo replies are answered inside lwIP (own addresses only); errors are built by glue.c
 * around a quote made here.
 * @module
 */
import { type Family, type FlowAddr, parseIp } from "./addr.ts";

/** Why a destination is unreachable. */
export type UnreachableKind =
  | "admin-prohibited"
  | "port-unreachable"
  | "host-unreachable"
  | "net-unreachable";

/** ICMPv4 type 3 / ICMPv6 type 1 codes, and whether the error comes from the original destination. */
export function unreachableCode(
  family: Family,
  kind: UnreachableKind,
): { code: number; fromOriginal: boolean } {
  switch (kind) {
    case "admin-prohibited": // RFC 1812 code 13 / RFC 4443 code 1
      return { code: family === 4 ? 13 : 1, fromOriginal: false };
    case "port-unreachable": // the destination host itself says so
      return { code: family === 4 ? 3 : 4, fromOriginal: true };
    case "host-unreachable":
      return { code: family === 4 ? 1 : 3, fromOriginal: false };
    case "net-unreachable":
      return { code: 0, fromOriginal: false };
  }
}

/** Bytes of payload quoted after the UDP header (RFC 792 needs 8; more helps debugging). */
const QUOTE_DATA = 64;

/**
 * Rebuilds the start of a peer's UDP packet (IP header, UDP header, some payload) for the
 * quote of an ICMP error: the peer's kernel matches the error to its socket by this header.
 */
export function quoteUdp(
  family: Family,
  src: FlowAddr,
  dst: FlowAddr,
  data: Uint8Array,
): Uint8Array {
  const s = parseIp(src.address), d = parseIp(dst.address);
  if (!s || !d || s.family !== family || d.family !== family) {
    throw new TypeError("quoteUdp: address family mismatch");
  }
  const body = data.subarray(0, QUOTE_DATA);
  const udpLen = 8 + data.length;
  const ipHeader = family === 4 ? 20 : 40;
  const out = new Uint8Array(ipHeader + 8 + body.length);
  if (family === 4) {
    const total = 20 + udpLen;
    out[0] = 0x45;
    out[2] = (total >> 8) & 0xff;
    out[3] = total & 0xff;
    out[8] = 64;
    out[9] = 17;
    out.set(s.bytes, 12);
    out.set(d.bytes, 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (out[i]! << 8) | out[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const ck = ~sum & 0xffff;
    out[10] = ck >> 8;
    out[11] = ck & 0xff;
  } else {
    out[0] = 0x60;
    out[4] = (udpLen >> 8) & 0xff;
    out[5] = udpLen & 0xff;
    out[6] = 17;
    out[7] = 64;
    out.set(s.bytes, 8);
    out.set(d.bytes, 24);
  }
  const u = ipHeader;
  out[u] = src.port >> 8;
  out[u + 1] = src.port & 0xff;
  out[u + 2] = dst.port >> 8;
  out[u + 3] = dst.port & 0xff;
  out[u + 4] = (udpLen >> 8) & 0xff;
  out[u + 5] = udpLen & 0xff;
  out.set(body, u + 8);
  return out;
}
