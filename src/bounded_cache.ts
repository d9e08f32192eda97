/**
 * A Map that starts over once it holds `limit` entries: the bound of the small memo caches on the
 * data path (parsed addresses, Deno's permission answers). The same few keys repeat there, a miss
 * only costs recomputing one answer, and an LRU's bookkeeping on every hit would cost more than
 * the rare refill after a clear.
 *
 * @example
 * ```ts
 * import { BoundedCache } from "./bounded_cache.ts";
 * const c = new BoundedCache<string, number>(2);
 * c.set("a", 1);
 * c.set("b", 2);
 * c.set("c", 3); // full: forgets a and b first
 * console.log(c.get("a"), c.get("c")); // undefined 3
 * ```
 * @module
 */

/** A Map bounded to `limit` entries by clearing it when full (see the module doc). */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, V>();
  readonly #limit: number;

  /** A cache of at most `limit` (≥ 1) entries. */
  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError(`cache limit must be ≥ 1, got ${limit}`);
    this.#limit = limit;
  }

  /** The value stored for `key`, or undefined. */
  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Whether `key` is stored. */
  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Stores `value` for `key`; a full cache is emptied first. */
  set(key: K, value: V): void {
    if (this.#map.size >= this.#limit && !this.#map.has(key)) this.#map.clear();
    this.#map.set(key, value);
  }

  /** Entries stored now. */
  get size(): number {
    return this.#map.size;
  }
}
