/** Test packet builders (independent of the stack's code): IPv4/IPv6 with TCP, UDP, ICMP. */
import { parseIp } from "../../src/netstack/addr.ts";

/** The 16-bit one's-complement sum of bytes, unfolded (a checksum's first step). */
export function sum16(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2) s += b[b.length - 1]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Internet checksum of bytes (RFC 1071). */
export function checksum(b: Uint8Array, initial = 0): number {
  return ~fold(sum16(b, initial)) & 0xffff;
}

function ip(text: string): Uint8Array {
  const p = parseIp(text);
  if (!p) throw new Error(`bad address ${text}`);
  return p.bytes;
}

/** Wraps a transport payload in an IPv4 or IPv6 header (family from the addresses). */
export function ipPacket(src: string, dst: string, proto: number, l4: Uint8Array): Uint8Array {
  const s = ip(src), d = ip(dst);
  const v6 = s.length === 16;
  // transport checksum over the pseudo-header (ICMPv4 has none)
  const ckOff = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 || proto === 58 ? 2 : -1;
  if (ckOff >= 0) {
    l4[ckOff] = 0;
    l4[ckOff + 1] = 0;
    let pseudo = 0;
    if (proto !== 1) {
      pseudo = sum16(s) + sum16(d) + proto + l4.length;
    }
    let ck = checksum(l4, pseudo);
    if (proto === 17 && ck === 0) ck = 0xffff;
    l4[ckOff] = ck >> 8;
    l4[ckOff + 1] = ck & 0xff;
  }
  if (v6) {
    const out = new Uint8Array(40 + l4.length);
    out[0] = 0x60;
    out[4] = l4.length >> 8;
    out[5] = l4.length & 0xff;
    out[6] = proto;
    out[7] = 64;
    out.set(s, 8);
    out.set(d, 24);
    out.set(l4, 40);
    return out;
  }
  const out = new Uint8Array(20 + l4.length);
  out[0] = 0x45;
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  out[8] = 64;
  out[9] = proto;
  out.set(s, 12);
  out.set(d, 16);
  const ck = checksum(out.subarray(0, 20));
  out[10] = ck >> 8;
  out[11] = ck & 0xff;
  out.set(l4, 20);
  return out;
}

/** TCP flag bits. */
export const SYN = 0x02, RST = 0x04, ACK = 0x10, FIN = 0x01;

/**
 * A TCP segment in an IP packet: `options` are raw option bytes (padded to 4), by default an MSS
 * option on SYNs and none otherwise.
 */
export function tcpPacket(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags: number,
  seq: number,
  ack = 0,
  payload: Uint8Array = new Uint8Array(0),
  options: number[] = flags & SYN ? [2, 4, 0x05, 0x78] : [],
): Uint8Array {
  const opts = [...options];
  while (opts.length % 4) opts.push(0);
  const hl = 20 + opts.length;
  const t = new Uint8Array(hl + payload.length);
  const dv = new DataView(t.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, seq >>> 0);
  dv.setUint32(8, ack >>> 0);
  t[12] = (hl / 4) << 4;
  t[13] = flags;
  dv.setUint16(14, 65535);
  t.set(opts, 20);
  t.set(payload, hl);
  return ipPacket(src, dst, 6, t);
}

/** A UDP datagram in an IP packet. */
export function udpPacket(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const u = new Uint8Array(8 + payload.length);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, u.length);
  u.set(payload, 8);
  return ipPacket(src, dst, 17, u);
}

/** An ICMP (v4) or ICMPv6 echo request. */
export function echoRequest(src: string, dst: string, id: number, seq: number): Uint8Array {
  const v6 = ip(src).length === 16;
  const m = new Uint8Array(8 + 16);
  m[0] = v6 ? 128 : 8;
  m[4] = id >> 8;
  m[5] = id & 0xff;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  for (let i = 8; i < m.length; i++) m[i] = i;
  return ipPacket(src, dst, v6 ? 58 : 1, m);
}

/** Parsed view of an output packet (enough for assertions). */
export interface Parsed {
  family: 4 | 6;
  proto: number;
  src: Uint8Array;
  dst: Uint8Array;
  l4: Uint8Array;
}

/** Parses an IPv4/IPv6 packet without extension headers. */
export function parsePacket(p: Uint8Array): Parsed {
  if (p[0]! >> 4 === 4) {
    const hl = (p[0]! & 15) * 4;
    return { family: 4, proto: p[9]!, src: p.slice(12, 16), dst: p.slice(16, 20), l4: p.slice(hl) };
  }
  return { family: 6, proto: p[6]!, src: p.slice(8, 24), dst: p.slice(24, 40), l4: p.slice(40) };
}

/** True if `bytes` equal the address `text`. */
export function isAddr(bytes: Uint8Array, text: string): boolean {
  const b = ip(text);
  return b.length === bytes.length && b.every((x, i) => x === bytes[i]);
}
