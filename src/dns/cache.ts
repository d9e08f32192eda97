/**
 * The built-in resolver's answer cache: entries live for their TTL, the table holds at most
 * `maxEntries`, and when full the least recently used entry goes (a `Map` keeps insertion order;
 * a hit re-inserts its key).
 *
 * @example
 * ```ts
 * import { DnsCache } from "./cache.ts";
 * import { ManualClock } from "../clock.ts";
 * const clock = new ManualClock();
 * const cache = new DnsCache({ maxEntries: 2, clock });
 * cache.set("example.com|1", { addresses: [new Uint8Array([192, 0, 2, 1])], nxdomain: false }, 60);
 * if (cache.get("example.com|1")?.ttl !== 60) throw new Error();
 * clock.advance(60_000);
 * if (cache.get("example.com|1") !== undefined) throw new Error("expired");
 * ```
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";

/** What a cached lookup said. */
export interface CachedAnswer {
  /** Addresses (4 or 16 bytes each) as the upstream gave them, before any policy filter. */
  addresses: Uint8Array[];
  /** The name does not exist. */
  nxdomain: boolean;
}

/** A cache hit: the answer and its remaining TTL in whole seconds. */
export interface CacheHit extends CachedAnswer {
  /** Seconds left (rounded down). */
  ttl: number;
}

/** Options of {@linkcode DnsCache}. */
export interface DnsCacheOptions {
  /** Most entries kept (default 4096). */
  maxEntries?: number;
  /** Time source (default the system clock). */
  clock?: Clock;
}

interface Entry extends CachedAnswer {
  expiresAt: number;
}

/** A bounded TTL cache of lookups, keyed by the caller (e.g. `name|qtype`). */
export class DnsCache {
  /** The entry limit. */
  readonly maxEntries: number;
  #clock: Clock;
  #map = new Map<string, Entry>();

  /** Creates an empty cache. */
  constructor(options: DnsCacheOptions = {}) {
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? 4096));
    this.#clock = options.clock ?? systemClock;
  }

  /** Entries held (expired ones included until looked up or evicted). */
  get size(): number {
    return this.#map.size;
  }

  /** The live entry for `key`, or undefined (an expired entry is removed). */
  get(key: string): CacheHit | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    const left = e.expiresAt - this.#clock.now();
    this.#map.delete(key);
    if (left <= 0) return undefined;
    this.#map.set(key, e); // most recently used goes last
    return { addresses: e.addresses, nxdomain: e.nxdomain, ttl: Math.floor(left / 1000) };
  }

  /** Stores `answer` for `ttlSeconds` (nothing is stored for a TTL of 0 or less). */
  set(key: string, answer: CachedAnswer, ttlSeconds: number): void {
    this.#map.delete(key);
    if (!(ttlSeconds > 0)) return;
    while (this.#map.size >= this.maxEntries) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
    }
    this.#map.set(key, {
      addresses: answer.addresses,
      nxdomain: answer.nxdomain,
      expiresAt: this.#clock.now() + ttlSeconds * 1000,
    });
  }

  /** Drops every entry. */
  clear(): void {
    this.#map.clear();
  }
}
