/**
 * Token buckets: a generic {@link TokenBucket}, and the per-source-address {@link RateLimiter} that
 * WireGuard applies to handshake initiations under load (wireguard-go `ratelimiter/`: 20 packets/s
 * per source, burst 5, entries dropped after 1 s idle; IPv6 sources are grouped by /64 as there).
 *
 * Both take an injectable millisecond clock so tests drive time.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./ratelimiter.ts";
 * let now = 0;
 * const limiter = new RateLimiter({ now: () => now });
 * const src = new Uint8Array([192, 0, 2, 1]);
 * let allowed = 0;
 * for (let i = 0; i < 10; i++) if (limiter.allow(src)) allowed++;
 * if (allowed !== 5) throw new Error(); // the burst
 * now += 50; // one packet's worth at 20/s
 * if (!limiter.allow(src)) throw new Error();
 * ```
 * @module
 */

import { unmapV4 } from "../wire/ip_address.ts";

/** A millisecond clock (monotonic in production: `performance.now`). */
export type Clock = () => number;

const defaultClock: Clock = () => performance.now();

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second. */
  rate: number;
  /** Bucket capacity: how many tokens can be spent at once after an idle period. */
  burst: number;
  /** Millisecond clock; default `performance.now`. */
  now?: Clock;
}

/** Refills `tokens` for the time since `last`, capped at `burst`. */
function refill(tokens: number, elapsedMs: number, rate: number, burst: number): number {
  // A clock that steps backwards adds nothing rather than draining the bucket.
  return elapsedMs > 0 ? Math.min(burst, tokens + (elapsedMs * rate) / 1000) : tokens;
}

function checkRateBurst(rate: number, burst: number): void {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be > 0, got ${rate}`);
  if (!(burst >= 1) || !Number.isFinite(burst)) {
    throw new RangeError(`burst must be >= 1, got ${burst}`);
  }
}

/** A token bucket: starts full, refills at `rate` per second up to `burst`. */
export class TokenBucket {
  /** Tokens per second. */
  readonly rate: number;
  /** Capacity. */
  readonly burst: number;
  readonly #now: Clock;
  #tokens: number;
  #last: number;

  /** Creates a full bucket. Throws RangeError for a non-positive rate or a burst below 1. */
  constructor(options: TokenBucketOptions) {
    checkRateBurst(options.rate, options.burst);
    this.rate = options.rate;
    this.burst = options.burst;
    this.#now = options.now ?? defaultClock;
    this.#tokens = options.burst;
    this.#last = this.#now();
  }

  #update(): void {
    const now = this.#now();
    this.#tokens = refill(this.#tokens, now - this.#last, this.rate, this.burst);
    this.#last = Math.max(this.#last, now);
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#update();
    return this.#tokens;
  }

  /** Spends `n` tokens if available and returns true; otherwise spends nothing and returns false. */
  take(n = 1): boolean {
    this.#update();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens are available (0 if they are now; Infinity if n > burst). */
  waitTime(n = 1): number {
    this.#update();
    if (n > this.burst) return Infinity;
    return this.#tokens >= n ? 0 : ((n - this.#tokens) * 1000) / this.rate;
  }
}

/** Options for {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Packets per second per source; default 20 (wireguard-go). */
  ratePerSecond?: number;
  /** Burst per source; default 5 (wireguard-go). */
  burst?: number;
  /** An entry idle this long (ms) is forgotten; default 1000 (wireguard-go). */
  idleMs?: number;
  /** Most sources tracked at once; beyond this, new sources are refused. Default 65536. */
  maxEntries?: number;
  /** Millisecond clock; default `performance.now`. */
  now?: Clock;
}

interface Entry {
  tokens: number;
  last: number;
}

/** Counters of a {@link RateLimiter}. */
export interface RateLimiterStats {
  /** Packets allowed. */
  allowed: number;
  /** Packets refused because the source's bucket was empty. */
  limited: number;
  /** Packets refused because the table was full of other sources. */
  tableFull: number;
  /** Packets refused because the address was not 4 or 16 bytes. */
  badAddress: number;
}

/**
 * Per-source token buckets. Sources are IPv4 addresses (IPv4-mapped IPv6 counts as IPv4) and IPv6
 * /64 prefixes. Idle entries are swept lazily, at most once per `idleMs`, from within
 * {@link RateLimiter.allow}; no timer is left running.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #idleMs: number;
  readonly #maxEntries: number;
  readonly #now: Clock;
  readonly #v4 = new Map<number, Entry>();
  readonly #v6 = new Map<string, Entry>();
  #lastSweep: number;
  /** Running counters. */
  readonly stats: RateLimiterStats = { allowed: 0, limited: 0, tableFull: 0, badAddress: 0 };

  /** Creates a limiter; defaults are wireguard-go's. */
  constructor(options: RateLimiterOptions = {}) {
    this.#rate = options.ratePerSecond ?? 20;
    this.#burst = options.burst ?? 5;
    checkRateBurst(this.#rate, this.#burst);
    this.#idleMs = options.idleMs ?? 1000;
    this.#maxEntries = options.maxEntries ?? 65536;
    this.#now = options.now ?? defaultClock;
    this.#lastSweep = this.#now();
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.#v4.size + this.#v6.size;
  }

  /** Drops entries idle for longer than `idleMs`. Called automatically; public for tests. */
  sweep(now: number = this.#now()): void {
    this.#lastSweep = now;
    for (const [k, e] of this.#v4) if (now - e.last > this.#idleMs) this.#v4.delete(k);
    for (const [k, e] of this.#v6) if (now - e.last > this.#idleMs) this.#v6.delete(k);
  }

  /** Whether one more packet from source `addr` (4 or 16 bytes) is allowed now; records it. */
  allow(addr: Uint8Array): boolean {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#idleMs) this.sweep(now);
    const a = unmapV4(addr);
    if (a.length === 4) {
      const key = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
      return this.#allowIn(this.#v4, key, now);
    }
    if (a.length === 16) {
      // IPv6 sources are grouped by /64: one host usually owns a whole /64.
      let key = "";
      for (let i = 0; i < 8; i += 2) key += String.fromCharCode((a[i]! << 8) | a[i + 1]!);
      return this.#allowIn(this.#v6, key, now);
    }
    this.stats.badAddress++;
    return false;
  }

  #allowIn<K>(table: Map<K, Entry>, key: K, now: number): boolean {
    let entry = table.get(key);
    if (entry === undefined) {
      // No extra sweep here: a flood of new sources must not buy a full table scan per packet.
      if (this.size >= this.#maxEntries) {
        this.stats.tableFull++;
        return false;
      }
      entry = { tokens: this.#burst, last: now };
      table.set(key, entry);
    } else {
      entry.tokens = refill(entry.tokens, now - entry.last, this.#rate, this.#burst);
      entry.last = Math.max(entry.last, now);
    }
    if (entry.tokens >= 1) {
      entry.tokens -= 1;
      this.stats.allowed++;
      return true;
    }
    this.stats.limited++;
    return false;
  }

  /** Forgets every source. */
  clear(): void {
    this.#v4.clear();
    this.#v6.clear();
  }
}
