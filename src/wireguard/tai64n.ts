/**
 * TAI64N timestamps for handshake initiations (WireGuard whitepaper section 5.1): 8 bytes of
 * big-endian seconds since 1970 plus 2^62 + 10 (the label `0x400000000000000a` that both the Linux
 * kernel and wireguard-go use), then 4 bytes of big-endian nanoseconds. A responder accepts an
 * initiation only if its timestamp is after the last one it accepted from that peer.
 *
 * Nanoseconds are rounded down to a multiple of 2^24 ns (~16.8 ms), as wireguard-go's whitener
 * does, so the timestamp does not leak a fine-grained clock reading; initiations are limited to far
 * fewer than one per 16.8 ms anyway.
 *
 * @example
 * ```ts
 * import { tai64nAfter, tai64nNow } from "./tai64n.ts";
 * const a = tai64nNow(() => 1_700_000_000_000);
 * const b = tai64nNow(() => 1_700_000_000_100);
 * if (!tai64nAfter(b, a) || tai64nAfter(a, a)) throw new Error();
 * ```
 * @module
 */

/** Size in bytes of a TAI64N timestamp. */
export const TAI64N_LEN = 12;

/** Label added to Unix seconds: 2^62 + 10 (kernel and wireguard-go). */
export const TAI64_BASE: bigint = 0x400000000000000an;

/** Nanosecond bits cleared by the whitener: 2^24 − 1 (wireguard-go `whitenerMask`). */
export const WHITENER_MASK = 0xffffff;

/** Wall-clock milliseconds since the Unix epoch (fractions allowed), like `Date.now`. */
export type WallClock = () => number;

/**
 * Encodes the wall-clock time `ms` (milliseconds since 1970, may be fractional) as a whitened
 * TAI64N timestamp.
 */
export function tai64nFromMs(ms: number): Uint8Array {
  if (!Number.isFinite(ms)) throw new RangeError(`invalid time ${ms}`);
  const secs = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.floor((ms - secs * 1000) * 1e6));
  const out = new Uint8Array(TAI64N_LEN);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI64_BASE + BigInt(secs));
  view.setUint32(8, (nanos & ~WHITENER_MASK) >>> 0);
  return out;
}

/** The current time as a whitened TAI64N timestamp. `clock` defaults to `Date.now`. */
export function tai64nNow(clock: WallClock = Date.now): Uint8Array {
  return tai64nFromMs(clock());
}

/** Decodes a TAI64N timestamp to Unix milliseconds (for logs and tests). */
export function tai64nToMs(ts: Uint8Array): number {
  if (ts.length !== TAI64N_LEN) throw new RangeError(`TAI64N is 12 bytes, got ${ts.length}`);
  const view = new DataView(ts.buffer, ts.byteOffset, ts.byteLength);
  const secs = Number(view.getBigUint64(0) - TAI64_BASE);
  return secs * 1000 + view.getUint32(8) / 1e6;
}

/**
 * Orders two timestamps as byte strings (big-endian, so byte order is time order): negative when
 * `a` is before `b`, 0 when equal, positive when `a` is after `b`.
 */
export function tai64nCompare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < TAI64N_LEN; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Whether `a` is strictly after `b` (wireguard-go `Timestamp.After`): the replay rule. */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  return tai64nCompare(a, b) > 0;
}
