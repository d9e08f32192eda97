/**
 * IP address utilities shared by AllowedIPs, the proxy policy and the config parser.
 *
 * An address is a `Uint8Array` of 4 (IPv4) or 16 (IPv6) bytes in network order. Text parsing is
 * strict (no leading zeros in IPv4 parts, no zones, at most one `::`) and fails with an
 * {@link IpParseError} that says what is wrong; formatting is canonical (RFC 5952 for IPv6).
 *
 * @example
 * ```ts
 * import { formatIp, parseCidr, parseIp } from "./ip_address.ts";
 * if (formatIp(parseIp("2001:DB8:0:0:0::1")) !== "2001:db8::1") throw new Error();
 * const net = parseCidr("10.1.2.3/8");
 * if (formatIp(net.addr) !== "10.0.0.0" || !net.hostBitsSet) throw new Error();
 * ```
 * @module
 */

/** Length in bytes of an IPv4 address. */
export const IPV4_LEN = 4;
/** Length in bytes of an IPv6 address. */
export const IPV6_LEN = 16;

/**
 * Thrown when a text address, prefix or host:port is malformed. The message reads
 * `invalid <what> "<input>": <reason>`; `reason` alone suits callers that name the input themselves.
 */
export class IpParseError extends Error {
  /** The text that failed to parse. */
  readonly input: string;
  /** What was being parsed, e.g. `"IPv4 address"`, `"prefix"`, `"host:port"`. */
  readonly what: string;
  /** What is wrong, e.g. `"prefix length out of range (0-32)"`. */
  readonly reason: string;
  /** Creates an error for `input`. */
  constructor(input: string, what: string, reason: string) {
    super(`invalid ${what} "${input}": ${reason}`);
    this.name = "IpParseError";
    this.input = input;
    this.what = what;
    this.reason = reason;
  }
}

/** Runs `parse`, re-labelling an inner {@link IpParseError} as a failure of the outer `input`. */
function nested<R>(input: string, what: string, parse: () => R): R {
  try {
    return parse();
  } catch (e) {
    if (e instanceof IpParseError) throw new IpParseError(input, what, e.message);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

function parseDecimalOctet(part: string): number | undefined {
  if (part.length === 0 || part.length > 3) return undefined;
  if (part.length > 1 && part.charCodeAt(0) === 0x30) return undefined; // leading zero (octal?)
  let n = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n <= 255 ? n : undefined;
}

function parseIpv4Into(text: string, out: Uint8Array, offset: number): string | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return `expected 4 dot-separated parts, got ${parts.length}`;
  for (let i = 0; i < 4; i++) {
    const n = parseDecimalOctet(parts[i] as string);
    if (n === undefined) {
      return `part "${parts[i]}" is not a decimal number 0-255 without leading zeros`;
    }
    out[offset + i] = n;
  }
  return undefined;
}

/** Parses dotted-quad IPv4 text into 4 bytes; throws {@link IpParseError}. */
export function parseIpv4(text: string): Uint8Array {
  const out = new Uint8Array(IPV4_LEN);
  const err = parseIpv4Into(text, out, 0);
  if (err !== undefined) throw new IpParseError(text, "IPv4 address", err);
  return out;
}

function parseHexGroup(group: string): number | undefined {
  if (group.length === 0 || group.length > 4) return undefined;
  let n = 0;
  for (let i = 0; i < group.length; i++) {
    const c = group.charCodeAt(i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return undefined;
    n = (n << 4) | d;
  }
  return n;
}

/** Parses one side of a `::` split into 16-bit groups; a trailing dotted IPv4 counts as two. */
function parseGroups(text: string, allowV4Tail: boolean): number[] | string {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (allowV4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = new Uint8Array(4);
      const err = parseIpv4Into(part, v4, 0);
      if (err !== undefined) return `embedded IPv4 "${part}": ${err}`;
      groups.push(((v4[0] as number) << 8) | (v4[1] as number));
      groups.push(((v4[2] as number) << 8) | (v4[3] as number));
      continue;
    }
    if (part === "") return "empty group (stray ':')";
    const g = parseHexGroup(part);
    if (g === undefined) return `group "${part}" is not 1-4 hex digits`;
    groups.push(g);
  }
  return groups;
}

/** Parses IPv6 text (with `::` and an optional embedded IPv4 tail, no zone) into 16 bytes. */
export function parseIpv6(text: string): Uint8Array {
  const fail = (reason: string): never => {
    throw new IpParseError(text, "IPv6 address", reason);
  };
  if (text.includes("%")) fail("zones are not supported");
  const halves = text.split("::");
  if (halves.length > 2) fail("more than one '::'");
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0] as string, false);
    if (typeof head === "string") return fail(head);
    const tail = parseGroups(halves[1] as string, true);
    if (typeof tail === "string") return fail(tail);
    const missing = 8 - head.length - tail.length;
    if (missing < 1) fail("'::' must stand for at least one zero group");
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (typeof all === "string") return fail(all);
    if (all.length !== 8) fail(`expected 8 groups, got ${all.length}`);
    groups = all;
  }
  const out = new Uint8Array(IPV6_LEN);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] as number;
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  }
  return out;
}

/** Parses IPv4 or IPv6 text into 4 or 16 bytes; throws {@link IpParseError}. */
export function parseIp(text: string): Uint8Array {
  if (text.includes(":")) return parseIpv6(text);
  if (text.includes(".")) return parseIpv4(text);
  throw new IpParseError(text, "IP address", "neither IPv4 nor IPv6");
}

/** Like {@link parseIp} but returns `undefined` instead of throwing. */
export function tryParseIp(text: string): Uint8Array | undefined {
  try {
    return parseIp(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

function formatIpv4At(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/**
 * Formats 4 or 16 bytes as canonical text: dotted quad, or RFC 5952 IPv6 (lower case, no leading
 * zeros, the longest run of two or more zero groups — the first on a tie — as `::`; IPv4-mapped
 * addresses as `::ffff:a.b.c.d`, RFC 5952 section 5).
 */
export function formatIp(addr: Uint8Array): string {
  if (addr.length === IPV4_LEN) return formatIpv4At(addr, 0);
  if (addr.length !== IPV6_LEN) {
    throw new RangeError(`an IP address is 4 or 16 bytes, got ${addr.length}`);
  }
  if (isV4Mapped(addr)) return `::ffff:${formatIpv4At(addr, 12)}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    groups.push(((addr[2 * i] as number) << 8) | (addr[2 * i + 1] as number));
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map((g) => g.toString(16)).join(":");
  const head = groups.slice(0, bestStart).map((g) => g.toString(16)).join(":");
  const tail = groups.slice(bestStart + bestLen).map((g) => g.toString(16)).join(":");
  return `${head}::${tail}`;
}

// ---------------------------------------------------------------------------------------------
// Comparison and embedded IPv4

/** Whether two addresses are the same family and bytes. */
export function ipEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hasPrefix(addr: Uint8Array, prefix: readonly number[]): boolean {
  if (addr.length !== IPV6_LEN) return false;
  for (let i = 0; i < prefix.length; i++) if (addr[i] !== prefix[i]) return false;
  return true;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const NAT64_PREFIX = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

/** Whether a 16-byte address is in `::ffff:0:0/96` (IPv4-mapped). */
export function isV4Mapped(addr: Uint8Array): boolean {
  return hasPrefix(addr, V4_MAPPED_PREFIX);
}

/** Returns the IPv4 address inside `::ffff:0:0/96` as a 4-byte view; any other address unchanged. */
export function unmapV4(addr: Uint8Array): Uint8Array {
  return isV4Mapped(addr) ? addr.subarray(12, 16) : addr;
}

/** Returns `::ffff:a.b.c.d` for a 4-byte address; a 16-byte address unchanged. */
export function mapV4(addr: Uint8Array): Uint8Array {
  if (addr.length !== IPV4_LEN) return addr;
  const out = new Uint8Array(IPV6_LEN);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(addr, 12);
  return out;
}

/** The IPv4 address in the well-known NAT64 prefix `64:ff9b::/96` (RFC 6052), as a copy. */
export function nat64ToV4(addr: Uint8Array): Uint8Array | undefined {
  return hasPrefix(addr, NAT64_PREFIX) ? addr.slice(12, 16) : undefined;
}

/** The IPv4 address in a 6to4 address `2002:aabb:ccdd::/48` (RFC 3056), as a copy. */
export function sixToFourToV4(addr: Uint8Array): Uint8Array | undefined {
  return hasPrefix(addr, [0x20, 0x02]) ? addr.slice(2, 6) : undefined;
}

/**
 * The IPv4 address an IPv6 address stands for — IPv4-mapped, NAT64 `64:ff9b::/96` or 6to4
 * `2002::/16` — or `undefined`. Policy maps such addresses to IPv4 before any check.
 */
export function embeddedV4(addr: Uint8Array): Uint8Array | undefined {
  if (isV4Mapped(addr)) return addr.slice(12, 16);
  return nat64ToV4(addr) ?? sixToFourToV4(addr);
}

// ---------------------------------------------------------------------------------------------
// Prefixes

/**
 * An address prefix. `addr` has all bits past `bits` cleared, except for an interface address
 * parsed with `mask: false` (`10.0.0.1/24` = host 10.0.0.1 on 10.0.0.0/24).
 */
export interface Cidr {
  /** Address (4 or 16 bytes); host bits zero unless parsed with `mask: false`. */
  readonly addr: Uint8Array;
  /** Prefix length, 0-32 or 0-128. */
  readonly bits: number;
}

/** A parsed prefix, reporting whether the text had host bits set (they are masked off). */
export interface ParsedCidr extends Cidr {
  /** True when the text had bits set past the prefix length, e.g. `10.1.2.3/8`. */
  readonly hostBitsSet: boolean;
}

/** Options for {@link parseCidr}. */
export interface ParseCidrOptions {
  /** Accept a bare address as a full-length prefix (`10.0.0.1` = `10.0.0.1/32`), as `wg` does. */
  allowBare?: boolean;
  /** Keep host bits instead of clearing them (for interface addresses). Default true: clear. */
  mask?: boolean;
}

/** Copies `addr` with every bit past `bits` cleared. */
export function maskAddress(addr: Uint8Array, bits: number): Uint8Array {
  const out = addr.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = bits - 8 * i;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : (out[i] as number) & (0xff << (8 - keep));
  }
  return out;
}

/**
 * Parses `addr/bits`. Host bits are accepted and masked (unless `mask: false`), and reported in
 * `hostBitsSet` so callers can warn. Throws {@link IpParseError} with a reason such as "prefix length out of range".
 */
export function parseCidr(text: string, options: ParseCidrOptions = {}): ParsedCidr {
  const slash = text.indexOf("/");
  if (slash < 0) {
    if (!options.allowBare) {
      throw new IpParseError(text, "prefix", `missing "/length"`);
    }
    const addr = nested(text, "prefix", () => parseIp(text));
    return { addr, bits: addr.length * 8, hostBitsSet: false };
  }
  const addr = nested(text, "prefix", () => parseIp(text.slice(0, slash)));
  const lenText = text.slice(slash + 1);
  const max = addr.length * 8;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) {
    throw new IpParseError(text, "prefix", `length "${lenText}" is not a number`);
  }
  const bits = Number(lenText);
  if (bits > max) {
    throw new IpParseError(text, "prefix", `prefix length out of range (0-${max})`);
  }
  const masked = maskAddress(addr, bits);
  const hostBitsSet = !ipEquals(masked, addr);
  return { addr: options.mask === false ? addr : masked, bits, hostBitsSet };
}

/** Formats a prefix as `addr/bits`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.addr)}/${cidr.bits}`;
}

/** Whether the first `bits` bits of `a` (at `aOff`) and `b` (at `bOff`) are equal. */
function prefixEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, bits: number) {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = 0xff << (8 - rest) & 0xff;
  return (((a[aOff + whole] as number) ^ (b[bOff + whole] as number)) & mask) === 0;
}

/** Whether `addr` (same family as the prefix) lies inside `cidr`. Different families: false. */
export function cidrContains(cidr: Cidr, addr: Uint8Array): boolean {
  if (addr.length !== cidr.addr.length) return false;
  return prefixEqual(cidr.addr, 0, addr, 0, cidr.bits);
}

/** Whether two prefixes share any address (one contains the other). */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  if (a.addr.length !== b.addr.length) return false;
  return prefixEqual(a.addr, 0, b.addr, 0, Math.min(a.bits, b.bits));
}

// ---------------------------------------------------------------------------------------------
// Addresses inside packets

/** IP version of a packet (4 or 6), or 0 when the buffer is empty or the nibble is neither. */
export function ipPacketVersion(packet: Uint8Array): 0 | 4 | 6 {
  if (packet.length === 0) return 0;
  const v = (packet[0] as number) >> 4;
  return v === 4 ? 4 : v === 6 ? 6 : 0;
}

/**
 * The source address of an IPv4/IPv6 packet as a view into `packet` (no copy), or `undefined` when
 * the packet is too short for its header.
 */
export function ipPacketSource(packet: Uint8Array): Uint8Array | undefined {
  const v = ipPacketVersion(packet);
  if (v === 4) return packet.length >= 20 ? packet.subarray(12, 16) : undefined;
  if (v === 6) return packet.length >= 40 ? packet.subarray(8, 24) : undefined;
  return undefined;
}

/** The destination address of an IPv4/IPv6 packet as a view into `packet`, or `undefined`. */
export function ipPacketDestination(packet: Uint8Array): Uint8Array | undefined {
  const v = ipPacketVersion(packet);
  if (v === 4) return packet.length >= 20 ? packet.subarray(16, 20) : undefined;
  if (v === 6) return packet.length >= 40 ? packet.subarray(24, 40) : undefined;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// host:port

/** A parsed `host:port`. */
export interface HostPort {
  /** Host name or address text, without brackets. */
  readonly host: string;
  /** Port 0-65535. */
  readonly port: number;
  /** The address bytes when `host` is an IP literal, else `undefined` (a name to resolve). */
  readonly ip: Uint8Array | undefined;
}

const HOSTNAME_RE =
  /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * Parses `1.2.3.4:80`, `[::1]:80` or `host.example:80`. IPv6 must be bracketed. Throws
 * {@link IpParseError}.
 */
export function parseHostPort(text: string): HostPort {
  const fail = (reason: string): never => {
    throw new IpParseError(text, "host:port", reason);
  };
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) fail("missing ']'");
    host = text.slice(1, close);
    if (text[close + 1] !== ":") fail("expected ':port' after ']'");
    portText = text.slice(close + 2);
    if (!host.includes(":")) fail("brackets are only for IPv6 addresses");
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) fail("missing ':port'");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) fail("IPv6 addresses must be in brackets, e.g. [::1]:51820");
  }
  if (!/^(0|[1-9][0-9]{0,4})$/.test(portText) || Number(portText) > 65535) {
    fail(`port "${portText}" is not a number 0-65535`);
  }
  const port = Number(portText);
  let ip: Uint8Array | undefined;
  if (host.includes(":")) {
    ip = nested(text, "host:port", () => parseIpv6(host));
  } else if (/^[0-9.]+$/.test(host)) {
    ip = nested(text, "host:port", () => parseIpv4(host));
  } else if (!HOSTNAME_RE.test(host)) {
    fail(`"${host}" is not a valid host name`);
  }
  return { host, port, ip };
}

/** Formats `host:port`, bracketing IPv6 (`[::1]:80`). `host` is text or address bytes. */
export function formatHostPort(host: string | Uint8Array, port: number): string {
  let text = typeof host === "string" ? host : formatIp(host);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  return text.includes(":") ? `[${text}]:${port}` : `${text}:${port}`;
}
