/**
 * Per-peer MSS clamping. lwIP has no path-MTU discovery, so a peer behind a smaller path MTU
 * (nested tunnels, PPPoE, mobile links) needs segments small enough from the start. The clamp
 * rewrites the MSS option of SYNs crossing the stack boundary, as routers do (`iptables
 * TCPMSS --clamp-mss-to-pmtu`):
 *  - inbound SYNs from a clamped peer, before lwIP sees them: lwIP then never sends that peer
 *    segments above the clamp;
 *  - outbound SYN / SYN-ACKs to a clamped peer: the peer then never sends us larger segments.
 * Only lowering: an MSS already at or below the clamp, or a SYN without the option (defaults
 * 536 / 1220 are below any sensible clamp), is left alone. A SYN whose checksum is wrong is
 * left alone too, so the stack still drops it instead of accepting a repaired copy.
 * @module
 */
import { type Cidr, parseCidr } from "./addr.ts";

/** One clamp: peers in `prefix` get at most `mss` bytes of TCP payload per segment. */
export interface MssClampRule {
  /** Peer addresses, e.g. "10.88.0.5/32" or "fd88::/64". */
  prefix: string;
  /** Largest MSS for those peers (at least 64). */
  mss: number;
}

const TCP = 6;
const SYN = 0x02;
/** IPv6 extension headers walked to find TCP: hop-by-hop, routing, destination options. */
const V6_EXTENSIONS = new Set([0, 43, 60]);
const MAX_V6_EXTENSIONS = 8;

/** Matches SYNs against the clamp rules and lowers their MSS option in place. */
export class MssClamp {
  #rules: { cidr: Cidr; mss: number }[];

  /** Parses the rules; throws TypeError/RangeError for a bad prefix or MSS. */
  constructor(rules: readonly MssClampRule[]) {
    this.#rules = rules.map((r) => {
      const cidr = parseCidr(r.prefix);
      if (!cidr) throw new TypeError(`mssClamp: invalid prefix ${JSON.stringify(r.prefix)}`);
      if (!Number.isInteger(r.mss) || r.mss < 64 || r.mss > 65495) {
        throw new RangeError(`mssClamp: mss ${r.mss} out of range 64..65495`);
      }
      return { cidr, mss: r.mss };
    });
  }

  /** True when there is no rule (callers skip the per-packet check). */
  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /**
   * Clamps the SYN in `b[off..off+len)` when its source (`inbound`) or destination (outbound)
   * matches a rule. Returns true when the packet was rewritten. Never throws for bad input.
   */
  apply(b: Uint8Array, off: number, len: number, inbound: boolean): boolean {
    const v = len > 0 ? b[off]! >> 4 : 0;
    let l4: number, addrOff: number, addrLen: number, end: number;
    if (v === 4) {
      if (len < 20 || b[off + 9] !== TCP) return false;
      end = off + Math.min(len, (b[off + 2]! << 8) | b[off + 3]!);
      if (((b[off + 6]! & 0x1f) | b[off + 7]!) !== 0) return false; // a fragment's offset
      l4 = off + (b[off]! & 0x0f) * 4;
      addrOff = off + (inbound ? 12 : 16);
      addrLen = 4;
    } else if (v === 6) {
      if (len < 40) return false;
      end = off + Math.min(len, 40 + ((b[off + 4]! << 8) | b[off + 5]!));
      let next = b[off + 6]!;
      l4 = off + 40;
      for (let i = 0; V6_EXTENSIONS.has(next) && i < MAX_V6_EXTENSIONS; i++) {
        if (l4 + 8 > end) return false;
        next = b[l4]!;
        l4 += (b[l4 + 1]! + 1) * 8;
      }
      if (next !== TCP) return false;
      addrOff = off + (inbound ? 8 : 24);
      addrLen = 16;
    } else {
      return false;
    }
    if (l4 + 20 > end || (b[l4 + 13]! & SYN) === 0) return false;
    const mss = this.#limitFor(b, addrOff, addrLen);
    if (mss === 0) return false;
    const hl = (b[l4 + 12]! >> 4) * 4;
    if (hl < 20 || l4 + hl > end) return false;
    const at = findMss(b, l4 + 20, l4 + hl);
    if (at < 0 || ((b[at]! << 8) | b[at + 1]!) <= mss) return false;
    const pseudo = pseudoSum(b, off, v, l4, end);
    if (finish(sum16(b, l4, end, pseudo)) !== 0) return false; // bad checksum: not ours to fix
    b[at] = mss >> 8;
    b[at + 1] = mss & 0xff;
    b[l4 + 16] = 0;
    b[l4 + 17] = 0;
    const ck = finish(sum16(b, l4, end, pseudo));
    b[l4 + 16] = ck >> 8;
    b[l4 + 17] = ck & 0xff;
    return true;
  }

  /** The clamp for the address at b[at..at+n), 0 when no rule matches (first match wins). */
  #limitFor(b: Uint8Array, at: number, n: number): number {
    for (const r of this.#rules) {
      if (r.cidr.bytes.length === n && prefixMatch(b, at, r.cidr)) return r.mss;
    }
    return 0;
  }
}

function prefixMatch(b: Uint8Array, at: number, c: Cidr): boolean {
  const whole = c.prefix >> 3, rest = c.prefix & 7;
  for (let i = 0; i < whole; i++) if (b[at + i] !== c.bytes[i]) return false;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[at + whole]! & mask) === (c.bytes[whole]! & mask);
}

/** Offset of the MSS option's 2-byte value within options b[from..to), or -1. */
function findMss(b: Uint8Array, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const kind = b[i]!;
    if (kind === 0) return -1; // end of options
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= to) return -1;
    const olen = b[i + 1]!;
    if (olen < 2 || i + olen > to) return -1;
    if (kind === 2) return olen === 4 ? i + 2 : -1;
    i += olen;
  }
  return -1;
}

/** One's-complement sum of the TCP pseudo-header. */
function pseudoSum(b: Uint8Array, off: number, v: number, l4: number, end: number): number {
  const tcpLen = end - l4;
  const s = v === 4 ? sum16(b, off + 12, off + 20, 0) : sum16(b, off + 8, off + 40, 0);
  return s + TCP + tcpLen;
}

function sum16(b: Uint8Array, from: number, to: number, initial: number): number {
  let s = initial;
  let i = from;
  for (; i + 1 < to; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < to) s += b[i]! << 8;
  return s;
}

/** Folds and complements a sum (0 for a packet whose checksum verifies). */
function finish(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}
