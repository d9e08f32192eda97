/**
 * A Map for tables whose keys come and go once per connection (held SYNs, accepts under way, open
 * flows), where the live entries are few but a new key arrives every few hundred microseconds.
 *
 * V8 (Deno 2.9.6) rebuilds a Map's hash table when its last entry is deleted and whenever deleted
 * entries have filled it. The table of a long-lived Map is rebuilt in the old generation, and what
 * the tables it leaves behind pointed to stays reachable from them until the next full collection:
 * a table cycling between zero and one entry, as these do, so allocated in the old generation on
 * every connection and carried connection objects there. Measured in an in-process loop of 20,000
 * proxied connections: with Maps ~52 KB were promoted per young-generation collection and a full
 * collection came every ~6,500 connections, with this ~9 KB and every ~20,000 (in the
 * connection-rate run a full collection, ~5 ms of marking on a second thread, the client's share of
 * the two cores, had come every ~2 s). Here `delete` only marks the entry, and the marked entries
 * are removed together once there are as many as live ones and at least {@link SWEEP_AT_LEAST}: one
 * rebuild for hundreds of deletions. The bound: at most `size` + max(`size`, {@link SWEEP_AT_LEAST})
 * entries are kept.
 *
 * Setting a marked key again reuses its entry, so iteration order is first insertion, not last.
 *
 * @example
 * ```ts
 * import { LazyDeleteMap } from "./lazy_delete_map.ts";
 * const m = new LazyDeleteMap<string, number>();
 * m.set("a", 1);
 * m.delete("a");
 * console.log(m.size, m.get("a"), m.has("a")); // 0 undefined false
 * ```
 * @module
 */

/** Fewest deleted entries removed in one sweep. */
export const SWEEP_AT_LEAST = 256;

/** The value of a deleted entry that is still in the underlying Map. */
const GONE: unique symbol = Symbol("gone");

/** A Map whose deletions are swept in batches (see the module doc). */
export class LazyDeleteMap<K, V> {
  readonly #map = new Map<K, V | typeof GONE>();
  #live = 0;
  #gone = 0;

  /** Live entries. */
  get size(): number {
    return this.#live;
  }

  /** Entries held, deleted ones not yet swept included (for tests and bounds). */
  get heldEntries(): number {
    return this.#map.size;
  }

  /** The value stored for `key`, or undefined. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    return v === GONE ? undefined : v;
  }

  /** Whether `key` is stored. */
  has(key: K): boolean {
    const v = this.#map.get(key);
    return v !== GONE && (v !== undefined || this.#map.has(key));
  }

  /** Stores `value` for `key`. */
  set(key: K, value: V): this {
    const v = this.#map.get(key);
    if (v === GONE) {
      this.#gone--;
      this.#live++;
    } else if (v === undefined && !this.#map.has(key)) {
      this.#live++;
    }
    this.#map.set(key, value);
    return this;
  }

  /** Removes `key`; returns whether it was stored. */
  delete(key: K): boolean {
    if (!this.has(key)) return false;
    this.#map.set(key, GONE);
    this.#live--;
    this.#gone++;
    if (this.#gone >= SWEEP_AT_LEAST && this.#gone >= this.#live) this.#sweep();
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.#map.clear();
    this.#live = 0;
    this.#gone = 0;
  }

  /** The live values, in first-insertion order. */
  *values(): IterableIterator<V> {
    for (const v of this.#map.values()) if (v !== GONE) yield v;
  }

  /** The live entries, in first-insertion order. */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.#map) if (v !== GONE) yield [k, v];
  }

  #sweep(): void {
    for (const [k, v] of this.#map) if (v === GONE) this.#map.delete(k);
    this.#gone = 0;
  }
}
