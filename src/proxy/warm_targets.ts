/**
 * Targets that accepted a connection recently, for the opt-in `acceptBeforeDial` mode: a SYN to
 * one of them is answered at once and the target is dialed while the SYN-ACK travels, so the
 * peer's connect costs one tunnel round trip instead of that plus the dial. A target not seen
 * (or not seen lately) is still dialed first: a closed port answers the peer's SYN with a RST,
 * as in the default mode, instead of an accept followed by a reset. A failed dial forgets it.
 *
 * @module
 */

/** How long a successful dial keeps a target warm (ms). */
export const WARM_TARGET_TTL_MS = 30_000;
/** Most targets remembered; past it the least recently confirmed one is forgotten. */
export const WARM_TARGETS_MAX = 4096;

/** A bounded set of recently reachable targets, keyed by address and port. */
export class WarmTargets {
  /** Off: nothing is warm and nothing is remembered (the default, dial-first mode). */
  #enabled = false;
  /** key → expiry; Map order is the order of the last confirmation (oldest first). */
  #until = new Map<string, number>();
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #max: number;

  /** Creates an empty, disabled set. */
  constructor(
    now: () => number,
    ttlMs: number = WARM_TARGET_TTL_MS,
    max: number = WARM_TARGETS_MAX,
  ) {
    this.#now = now;
    this.#ttlMs = ttlMs;
    this.#max = Math.max(1, max);
  }

  /** Whether SYNs to warm targets are accepted before the dial. Turning it off forgets all. */
  get enabled(): boolean {
    return this.#enabled;
  }
  set enabled(on: boolean) {
    this.#enabled = on;
    if (!on) this.#until.clear();
  }

  /** Targets remembered now (expired ones included until looked up or pushed out). */
  get size(): number {
    return this.#until.size;
  }

  /** Whether `address`:`port` accepted a connection within the last TTL. */
  has(address: string, port: number): boolean {
    if (!this.#enabled) return false;
    const key = targetKey(address, port);
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#until.delete(key);
    return false;
  }

  /** A dial to `address`:`port` succeeded: warm for another TTL. */
  confirm(address: string, port: number): void {
    if (!this.#enabled) return;
    const key = targetKey(address, port);
    this.#until.delete(key); // re-inserted last: the Map's order stays oldest-confirmed first
    this.#until.set(key, this.#now() + this.#ttlMs);
    if (this.#until.size > this.#max) {
      this.#until.delete(this.#until.keys().next().value!);
    }
  }

  /** A dial to `address`:`port` failed: the next SYN waits for its own dial. */
  forget(address: string, port: number): void {
    this.#until.delete(targetKey(address, port));
  }
}

function targetKey(address: string, port: number): string {
  return `${address}|${port}`;
}
