/**
 * Input guard for IPv6 fragments that lwIP 2.1.3 mishandles: a fragment whose Fragment header
 * is followed by another Fragment header (RFC 8200 §4.5 allows no such nesting in practice)
 * can, under reassembly pressure, trip an assertion in `ip6_reass` that stops the whole stack.
 * Such packets are dropped before they enter the stack.
 *
 * @module
 */

const NEXT_HOP_BY_HOP = 0;
const NEXT_ROUTING = 43;
const NEXT_FRAGMENT = 44;
const NEXT_DEST_OPTS = 60;
/** Bound on extension headers walked (a chain longer than this is dropped too). */
const MAX_EXTENSIONS = 8;

/** Whether an IPv6 packet is a fragment carrying a nested Fragment header (drop it). */
export function isNestedIpv6Fragment(b: Uint8Array, off: number, len: number): boolean {
  if (len < 40 || b[off]! >> 4 !== 6) return false;
  let next = b[off + 6]!;
  let at = off + 40;
  const end = off + len;
  for (let i = 0; i < MAX_EXTENSIONS; i++) {
    if (next === NEXT_FRAGMENT) {
      if (at + 8 > end) return false; // truncated: lwIP drops it itself
      return b[at]! === NEXT_FRAGMENT;
    }
    if (next !== NEXT_HOP_BY_HOP && next !== NEXT_ROUTING && next !== NEXT_DEST_OPTS) return false;
    if (at + 2 > end) return false;
    next = b[at]!;
    at += (b[at + 1]! + 1) * 8;
  }
  return next === NEXT_FRAGMENT;
}
