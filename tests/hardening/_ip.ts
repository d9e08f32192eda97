/**
 * Packet builders the hardening fuzzers add to tests/netstack/_packets.ts: TCP with arbitrary
 * options, IPv4 options, IPv4 and IPv6 fragments, IPv6 extension headers, and a checksum fixer
 * that lets mutated packets past the checksum checks into deeper code.
 */
import { checksum, sum16, tcpPacket } from "../netstack/_packets.ts";

/** A TCP segment with the given raw option bytes (padded to 4) in an IP packet. */
export function tcpWithOptions(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags: number,
  options: number[],
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return tcpPacket(src, sport, dst, dport, flags, 0x01020304, 0, payload, options);
}

/** Inserts IPv4 options (padded to 4 bytes) into an IPv4 packet, fixing lengths and checksum. */
export function withIpv4Options(p: Uint8Array, options: number[]): Uint8Array {
  const opts = [...options];
  while (opts.length % 4) opts.push(0);
  const out = new Uint8Array(p.length + opts.length);
  out.set(p.subarray(0, 20));
  out.set(opts, 20);
  out.set(p.subarray(20), 20 + opts.length);
  out[0] = 0x40 | ((20 + opts.length) / 4);
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  fixChecksums(out);
  return out;
}

/** Splits an IPv4 packet (20-byte header) into fragments of `size` payload bytes (multiple of 8). */
export function ipv4Fragments(p: Uint8Array, size: number, id: number): Uint8Array[] {
  const payload = p.subarray(20);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const part = payload.subarray(off, off + size);
    const f = new Uint8Array(20 + part.length);
    f.set(p.subarray(0, 20));
    f.set(part, 20);
    f[2] = f.length >> 8;
    f[3] = f.length & 0xff;
    f[4] = (id >> 8) & 0xff;
    f[5] = id & 0xff;
    const more = off + size < payload.length ? 0x2000 : 0;
    const word = more | (off / 8);
    f[6] = word >> 8;
    f[7] = word & 0xff;
    f[10] = f[11] = 0;
    const ck = checksum(f.subarray(0, 20));
    f[10] = ck >> 8;
    f[11] = ck & 0xff;
    out.push(f);
  }
  return out;
}

/** Splits an IPv6 packet (no extension headers) into fragments with a Fragment header. */
export function ipv6Fragments(p: Uint8Array, size: number, id: number): Uint8Array[] {
  const next = p[6]!;
  const payload = p.subarray(40);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const part = payload.subarray(off, off + size);
    const f = new Uint8Array(48 + part.length);
    f.set(p.subarray(0, 40));
    f[4] = (8 + part.length) >> 8;
    f[5] = (8 + part.length) & 0xff;
    f[6] = 44;
    f[40] = next;
    const word = (off / 8) << 3 | (off + size < payload.length ? 1 : 0);
    f[42] = word >> 8;
    f[43] = word & 0xff;
    new DataView(f.buffer).setUint32(44, id);
    f.set(part, 48);
    out.push(f);
  }
  return out;
}

/** Puts IPv6 extension headers (types 0, 43, 60; 8 bytes each) in front of the payload. */
export function withIpv6Extensions(p: Uint8Array, types: number[]): Uint8Array {
  const out = new Uint8Array(p.length + 8 * types.length);
  out.set(p.subarray(0, 40));
  let off = 40;
  let prevNextOff = 6;
  for (const t of types) {
    out[prevNextOff] = t;
    // hdr ext len 0 (8 bytes); for options headers a PadN filling the rest
    if (t === 0 || t === 60) out.set([0, 0, 1, 4, 0, 0, 0, 0], off);
    else out.set([0, 0, 0, 1, 0, 0, 0, 0], off); // routing type 0, segments left 1
    prevNextOff = off;
    off += 8;
  }
  out[prevNextOff] = p[6]!;
  out.set(p.subarray(40), off);
  const plen = out.length - 40;
  out[4] = plen >> 8;
  out[5] = plen & 0xff;
  return out;
}

/**
 * Recomputes the IPv4 header checksum and the TCP/UDP/ICMP checksum where the (possibly
 * mutated) headers still say where they are; leaves anything it cannot place alone.
 */
export function fixChecksums(p: Uint8Array): void {
  if (p.length < 20) return;
  const v = p[0]! >> 4;
  let proto: number, l4: Uint8Array, pseudo: number;
  if (v === 4) {
    const ihl = (p[0]! & 15) * 4;
    if (ihl < 20 || ihl > p.length) return;
    p[10] = p[11] = 0;
    const ck = checksum(p.subarray(0, ihl));
    p[10] = ck >> 8;
    p[11] = ck & 0xff;
    if (((p[6]! & 0x3f) << 8 | p[7]!) !== 0 || p[6]! & 0x20) return; // a fragment
    const end = Math.min(p.length, (p[2]! << 8) | p[3]!);
    if (end <= ihl) return;
    proto = p[9]!;
    l4 = p.subarray(ihl, end);
    pseudo = proto === 1 ? 0 : sum16(p.subarray(12, 20)) + proto + l4.length;
  } else if (v === 6) {
    if (p.length < 40) return;
    proto = p[6]!;
    l4 = p.subarray(40, Math.min(p.length, 40 + ((p[4]! << 8) | p[5]!)));
    pseudo = sum16(p.subarray(8, 40)) + proto + l4.length;
  } else {
    return;
  }
  const off = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 || proto === 58 ? 2 : -1;
  if (off < 0 || l4.length < off + 2) return;
  l4[off] = l4[off + 1] = 0;
  let ck = checksum(l4, pseudo);
  if (proto === 17 && ck === 0) ck = 0xffff;
  l4[off] = ck >> 8;
  l4[off + 1] = ck & 0xff;
}
