/**
 * IP address text <-> bytes for the netstack binding (IPv4 dotted quad, IPv6 RFC 5952 text).
 * @module
 */

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

/** Parses an IPv4 dotted quad; null if invalid. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses IPv6 text (with optional embedded IPv4 tail); null if invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (s.includes("%")) return null;
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (!v4) return null;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1 && head.length !== 8) return null;
  if (halves.length === 2 && head.length + tail.length > 7) return null;
  const groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address. */
export function parseIp(text: string): IpBytes | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return null;
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
