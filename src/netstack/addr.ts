/**
 * IP address text <-> bytes for the netstack binding (IPv4 dotted quad, IPv6 RFC 5952 text), in
 * the shapes the stack uses (family + bytes; formatting at an offset in a packet). Parsing is
 * src/wire/ip_address.ts's.
 * @module
 */
import { tryParseIp } from "../wire/ip_address.ts";

/** An address family. */
export type Family = 4 | 6;

/** An address and port as the stack sees them (`address` in canonical text form). */
export interface FlowAddr {
  /** IPv4 dotted quad or RFC 5952 IPv6 text (no brackets, no zone). */
  address: string;
  /** Port, 0-65535. */
  port: number;
}

/** A parsed address: 4 bytes (IPv4) or 16 bytes (IPv6). */
export interface IpBytes {
  /** Address family. */
  family: Family;
  /** Network-order bytes. */
  bytes: Uint8Array;
}

/** A parsed "address/prefix" string. */
export interface Cidr extends IpBytes {
  /** Prefix length in bits. */
  prefix: number;
}

/** IPv6 text without URL-style brackets; anything else is left for the parser to refuse. */
function unbracket(text: string): string {
  return text.startsWith("[") && text.endsWith("]") && text.includes(":")
    ? text.slice(1, -1)
    : text;
}

/** Parses an IPv4 dotted quad; null if invalid. (The one parser is src/wire/ip_address.ts.) */
export function parseIpv4(text: string): Uint8Array | null {
  const b = tryParseIp(text);
  return b?.length === 4 ? b : null;
}

/** Parses IPv6 text (brackets allowed, an embedded IPv4 tail too); null if invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  const b = tryParseIp(unbracket(text));
  return b?.length === 16 ? b : null;
}

/** Parses an IPv4 or IPv6 address. */
export function parseIp(text: string): IpBytes | null {
  const b = tryParseIp(unbracket(text));
  if (b === undefined) return null;
  return { family: b.length === 4 ? 4 : 6, bytes: b };
}

/** Parses "address/prefix" (prefix defaults to the full length). */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { ...ip, prefix };
}

/** Formats 4 bytes at `off` as a dotted quad. */
export function formatIpv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Formats 16 bytes at `off` as RFC 5952 IPv6 text (longest zero run compressed). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + i * 2]! << 8) | b[off + i * 2 + 1]!);
  let bestStart = -1, bestLen = 1, runStart = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && g[i] === 0) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      const len = i - runStart;
      if (len > bestLen) {
        bestStart = runStart;
        bestLen = len;
      }
      runStart = -1;
    }
  }
  const hex = (x: number) => x.toString(16);
  if (bestStart < 0) return g.map(hex).join(":");
  const head = g.slice(0, bestStart).map(hex).join(":");
  const tail = g.slice(bestStart + bestLen).map(hex).join(":");
  return `${head}::${tail}`;
}

/** Formats an address of `family` at `off`. */
export function formatIp(family: Family, b: Uint8Array, off = 0): string {
  return family === 4 ? formatIpv4(b, off) : formatIpv6(b, off);
}
