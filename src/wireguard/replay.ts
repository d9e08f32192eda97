/**
 * Sliding anti-replay window for transport-data counters (WireGuard whitepaper section 5.4.6,
 * algorithm of RFC 6479): a ring of 32-bit words, of which all but one word is the window, so
 * moving forward only clears whole words and never shifts bits.
 *
 * Counters are JavaScript numbers. The wire format carries 64 bits, but a sender would need 2^53
 * packets (centuries at line rate) to exceed `Number.MAX_SAFE_INTEGER`, so anything above it is
 * rejected rather than silently rounded. This is stricter than the whitepaper's
 * `RejectAfterMessages` (2^64 − 2^13 − 1), which therefore never triggers first.
 *
 * @example
 * ```ts
 * import { ReplayWindow } from "./replay.ts";
 * const w = new ReplayWindow();
 * if (!w.validate(5) || w.validate(5) || !w.validate(3)) throw new Error();
 * ```
 * @module
 */

const BLOCK_BITS = 32;
const RING_BLOCKS = 256; // power of two
/**
 * Messages behind the newest accepted counter that are still accepted (once each): 8160. The
 * whitepaper asks for at least 2048; wireguard-go keeps 8128 (127 blocks of 64 bits).
 */
export const REPLAY_WINDOW_SIZE: number = (RING_BLOCKS - 1) * BLOCK_BITS;

/** Largest counter {@link ReplayWindow.validate} accepts (2^53 − 1). */
export const MAX_COUNTER: number = Number.MAX_SAFE_INTEGER;

/** Anti-replay filter for one receiving session key. */
export class ReplayWindow {
  readonly #ring = new Uint32Array(RING_BLOCKS);
  #last = 0;
  #next = 0;

  /** The highest counter accepted so far (0 before any). */
  get last(): number {
    return this.#last;
  }

  /**
   * The counter that would follow the highest accepted one in order (0 before any): a counter
   * accepted at or above it skipped `counter - next` messages, one below it came late.
   */
  get next(): number {
    return this.#next;
  }

  /**
   * Accepts `counter` if it was never seen and is not older than the window, and records it.
   * Returns false for a replay, a too-old counter, or a counter that is not an integer in
   * 0..{@link MAX_COUNTER}. Call it only after the packet authenticated, or an attacker could move
   * the window.
   */
  validate(counter: number): boolean {
    if (!(counter >= 0 && counter <= MAX_COUNTER) || !Number.isInteger(counter)) return false;
    const block = Math.floor(counter / BLOCK_BITS);
    if (counter > this.#last) {
      // Moving forward: clear the words between the old and the new head (at most the whole ring).
      const current = Math.floor(this.#last / BLOCK_BITS);
      const diff = Math.min(block - current, RING_BLOCKS);
      for (let i = 1; i <= diff; i++) this.#ring[(current + i) % RING_BLOCKS] = 0;
      this.#last = counter;
    } else if (this.#last - counter > REPLAY_WINDOW_SIZE) {
      return false;
    }
    const index = block % RING_BLOCKS;
    const bit = 1 << (counter % BLOCK_BITS);
    const old = this.#ring[index] as number;
    if ((old & bit) !== 0) return false;
    this.#ring[index] = old | bit;
    if (counter >= this.#next) this.#next = counter + 1;
    return true;
  }

  /** Forgets everything, as for a fresh session. */
  reset(): void {
    this.#ring.fill(0);
    this.#last = 0;
    this.#next = 0;
  }
}

/**
 * Reads the 64-bit little-endian counter at `bytes[offset..offset+8)` as a number, or returns -1
 * when it is at or above 2^53 (which {@link ReplayWindow.validate} then rejects). No allocation.
 */
export function readCounterLE(bytes: Uint8Array, offset: number): number {
  const lo = (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) |
    (bytes[offset + 3]! << 24)) >>> 0;
  const hi = (bytes[offset + 4]! | (bytes[offset + 5]! << 8) | (bytes[offset + 6]! << 16) |
    (bytes[offset + 7]! << 24)) >>> 0;
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + lo;
}
