/**
 * Random 32-bit session indices (whitepaper §5.4.1) mapped to the peer, and keypair, they name.
 *
 * @module
 */
import type { Keypair } from "./keypair.ts";
import type { Peer } from "./peer.ts";

/** What an index names: a peer's pending handshake (keypair null) or a transport keypair. */
export interface IndexEntry {
  /** The peer. */
  readonly peer: Peer;
  /** The keypair, or null while the index belongs to a handshake. */
  readonly keypair: Keypair | null;
}

/** The device's index table. */
export class IndexTable {
  #map = new Map<number, IndexEntry>();
  #random = new Uint32Array(1);

  /** Allocates a fresh random non-zero index for `entry`. */
  allocate(entry: IndexEntry): number {
    for (;;) {
      crypto.getRandomValues(this.#random);
      const i = this.#random[0]!;
      if (i !== 0 && !this.#map.has(i)) {
        this.#map.set(i, entry);
        return i;
      }
    }
  }

  /** Binds `index` to `entry` (a keypair takes over its handshake's index). */
  set(index: number, entry: IndexEntry): void {
    this.#map.set(index, entry);
  }

  /** Looks an index up. */
  get(index: number): IndexEntry | undefined {
    return this.#map.get(index);
  }

  /** Frees an index. */
  delete(index: number): void {
    this.#map.delete(index);
  }

  /** Number of live indices. */
  get size(): number {
    return this.#map.size;
  }
}
