/**
 * A single-producer single-consumer ring of datagrams in a SharedArrayBuffer, the hand-off
 * between the UDP Worker and the main thread (one ring per direction).
 *
 * Layout: a 256-byte control block, then `capacity` bytes of records. Head (producer), tail
 * (consumer) and the consumer's sleep flag each sit in their own 64-byte cache line, so the two
 * threads do not write the same line per datagram. Head and tail are free-running 32-bit byte
 * counters (`pos & mask` is the offset), so a full ring and an empty one differ.
 *
 * A record is word aligned: `[length][port | family << 16][address: 16 bytes][payload]`. A record
 * never wraps: when it does not fit before the end, the producer writes {@link WRAP_MARK} and
 * starts again at offset 0.
 *
 * Waking: the consumer sets the sleep flag, re-checks, then `Atomics.waitAsync`s on it; the
 * producer notifies only when it finds the flag set (notifying per datagram halves throughput —
 * DESIGN.md "Data-path facts").
 *
 * @module
 */

/** Bytes before the first record: control words, one cache line apart. */
export const RING_CONTROL_BYTES = 256;
/** Bytes of a record's header: length, port and family, 16 address bytes. */
export const RECORD_HEADER_BYTES = 24;
/** Header words a consumer receives in its `meta` array (see {@link DatagramRing.shiftInto}). */
export const RECORD_META_WORDS = 6;
/** Length word that says "the rest up to the end is unused; continue at offset 0". */
export const WRAP_MARK = -1;
/** Smallest ring accepted (bytes of record space). */
export const MIN_RING_BYTES = 1024;
/** Largest ring accepted (keeps the free-running counters far from sign trouble). */
export const MAX_RING_BYTES = 1 << 28;

// Control word indices (Int32Array over the whole buffer).
const HEAD = 0; // producer → consumer: bytes written (free-running)
const TAIL = 16; // consumer → producer: bytes consumed (free-running)
const SLEEP = 32; // 1 while the consumer waits (or is about to)
const CLOSED = 33; // 1 once either side closed the ring
const DROPPED = 48; // producer's count of datagrams that did not fit
const DATA_WORD = RING_CONTROL_BYTES >> 2;

/** Rounds `bytes` up to a power of two within [{@link MIN_RING_BYTES}, {@link MAX_RING_BYTES}]. */
export function ringCapacity(bytes: number): number {
  let cap = MIN_RING_BYTES;
  while (cap < bytes && cap < MAX_RING_BYTES) cap *= 2;
  return cap;
}

/** Which address family a record carries. */
export type RecordFamily = 4 | 6;

/** One direction's datagram ring; both threads build one over the same buffer. */
export class DatagramRing {
  /** The shared memory (post it to the other thread and build a ring over it there). */
  readonly buffer: SharedArrayBuffer;
  /** Bytes of record space (a power of two). */
  readonly capacity: number;
  readonly #i32: Int32Array;
  readonly #u8: Uint8Array;
  readonly #mask: number;
  // Each side caches its own counter and its last view of the other's.
  #head: number;
  #tail: number;
  #seenHead: number;
  #seenTail: number;

  /** Allocates a ring with at least `bytes` of record space (rounded up to a power of two). */
  static create(bytes: number): DatagramRing {
    const cap = ringCapacity(bytes);
    return new DatagramRing(new SharedArrayBuffer(RING_CONTROL_BYTES + cap));
  }

  /** Attaches to a buffer made by {@link DatagramRing.create} (possibly in another thread). */
  constructor(buffer: SharedArrayBuffer) {
    const cap = buffer.byteLength - RING_CONTROL_BYTES;
    if (cap < MIN_RING_BYTES || (cap & (cap - 1)) !== 0) {
      throw new RangeError(`ring buffer of ${buffer.byteLength} bytes: not control + 2^n`);
    }
    this.buffer = buffer;
    this.capacity = cap;
    this.#mask = cap - 1;
    this.#i32 = new Int32Array(buffer);
    this.#u8 = new Uint8Array(buffer);
    this.#head = Atomics.load(this.#i32, HEAD);
    this.#tail = Atomics.load(this.#i32, TAIL);
    this.#seenHead = this.#head;
    this.#seenTail = this.#tail;
  }

  /** Largest payload a record can carry in this ring. */
  get maxPayload(): number {
    return this.capacity - RECORD_HEADER_BYTES;
  }

  /** Datagrams the producer could not fit (ring full or larger than the ring). */
  get dropped(): number {
    return Atomics.load(this.#i32, DROPPED);
  }

  /** Whether {@link DatagramRing.close} was called on either side. */
  get closed(): boolean {
    return Atomics.load(this.#i32, CLOSED) === 1;
  }

  // --- producer ---------------------------------------------------------------------------------

  /**
   * Copies one datagram in. `address` holds 4 words (an IPv4 address in the first). Returns false
   * — and counts a drop — when it does not fit; never blocks.
   */
  tryPush(data: Uint8Array, port: number, family: RecordFamily, address: Int32Array): boolean {
    const len = data.length;
    const need = (RECORD_HEADER_BYTES + len + 3) & ~3;
    let head = this.#head;
    let off = head & this.#mask;
    const contiguous = this.capacity - off;
    const total = need > contiguous ? need + contiguous : need;
    if (this.capacity - ((head - this.#seenTail) | 0) < total) {
      this.#seenTail = Atomics.load(this.#i32, TAIL);
      if (need > this.capacity || this.capacity - ((head - this.#seenTail) | 0) < total) {
        Atomics.add(this.#i32, DROPPED, 1);
        return false;
      }
    }
    const i32 = this.#i32;
    if (need > contiguous) {
      i32[DATA_WORD + (off >> 2)] = WRAP_MARK;
      head = (head + contiguous) | 0;
      off = 0;
    }
    const w = DATA_WORD + (off >> 2);
    i32[w] = len;
    i32[w + 1] = port | (family << 16);
    i32[w + 2] = address[0]!;
    i32[w + 3] = address[1]!;
    i32[w + 4] = address[2]!;
    i32[w + 5] = address[3]!;
    this.#u8.set(data, RING_CONTROL_BYTES + off + RECORD_HEADER_BYTES);
    this.#head = (head + need) | 0;
    Atomics.store(i32, HEAD, this.#head); // publishes the record (seq-cst: after the writes)
    return true;
  }

  /** Wakes the consumer if — and only if — it sleeps. Call after a push (or a batch of them). */
  wakeConsumer(): void {
    if (this.claimSleeper()) Atomics.notify(this.#i32, SLEEP);
  }

  /**
   * Whether the consumer sleeps (or is about to), clearing its flag: the caller then wakes it by
   * its own means (a consumer blocked in `poll` rather than `Atomics.waitAsync`).
   */
  claimSleeper(): boolean {
    return Atomics.load(this.#i32, SLEEP) === 1 &&
      Atomics.compareExchange(this.#i32, SLEEP, 1, 0) === 1;
  }

  /**
   * Producer: whether the consumer sleeps with everything pushed taken — nothing queued that a
   * datagram sent some other way could overtake.
   */
  consumerIdle(): boolean {
    return Atomics.load(this.#i32, SLEEP) === 1 && Atomics.load(this.#i32, TAIL) === this.#head;
  }

  // --- consumer ---------------------------------------------------------------------------------

  /** Whether a record is waiting (consumer side). */
  hasData(): boolean {
    if (this.#tail !== this.#seenHead) return true;
    this.#seenHead = Atomics.load(this.#i32, HEAD);
    return this.#tail !== this.#seenHead;
  }

  /** Word index of the next record's header, skipping a wrap mark; -1 when empty. */
  #next(): number {
    if (!this.hasData()) return -1;
    let off = this.#tail & this.#mask;
    if (this.#i32[DATA_WORD + (off >> 2)] === WRAP_MARK) {
      this.#tail = (this.#tail + this.capacity - off) | 0;
      if (!this.hasData()) return -1; // cannot happen: a wrap mark is followed by a record
      off = 0;
    }
    return DATA_WORD + (off >> 2);
  }

  /** Frees the record at the tail (`#next` already stepped over any wrap mark). */
  #release(len: number): void {
    this.#tail = (this.#tail + ((RECORD_HEADER_BYTES + len + 3) & ~3)) | 0;
    Atomics.store(this.#i32, TAIL, this.#tail);
  }

  /**
   * Takes the next datagram: copies its payload into `buf` (cut to `buf.length`) and its header
   * words into `meta` ({@link RECORD_META_WORDS} long: length, port | family << 16, 4 address
   * words). Returns the datagram's full length, or -1 when the ring is empty.
   */
  shiftInto(buf: Uint8Array, meta: Int32Array): number {
    const w = this.#next();
    if (w < 0) return -1;
    const i32 = this.#i32;
    const len = i32[w]!;
    for (let i = 0; i < RECORD_META_WORDS; i++) meta[i] = i32[w + i]!;
    const start = (w << 2) + RECORD_HEADER_BYTES;
    const n = len <= buf.length ? len : buf.length;
    buf.set(this.#u8.subarray(start, start + n));
    this.#release(len);
    return len;
  }

  /**
   * Consumer: announces it is about to sleep. Returns true if it may sleep (still empty after
   * the flag is visible), false if data raced in (the flag is cleared again).
   */
  prepareSleep(): boolean {
    Atomics.store(this.#i32, SLEEP, 1);
    if (this.hasData() || this.closed) {
      Atomics.store(this.#i32, SLEEP, 0);
      return false;
    }
    return true;
  }

  /** Consumer: woke by other means than the producer; clears the flag announced by prepareSleep. */
  cancelSleep(): void {
    Atomics.store(this.#i32, SLEEP, 0);
  }

  /** Consumer: waits until the producer wakes it (after {@link DatagramRing.prepareSleep}). */
  sleep(): Promise<unknown> {
    const r = Atomics.waitAsync(this.#i32, SLEEP, 1);
    return r.async ? r.value : Promise.resolve(r.value);
  }

  /** Marks the ring closed and wakes a sleeping consumer. Either side may call it. */
  close(): void {
    Atomics.store(this.#i32, CLOSED, 1);
    Atomics.store(this.#i32, SLEEP, 0);
    Atomics.notify(this.#i32, SLEEP);
  }
}

/**
 * Lets the event loop run (timers, I/O completions) without the 1–4 ms a `setTimeout(0)` chain
 * costs in Deno 2.9.6 (measured ~2.3 ms per hop; this ~10 µs): a `waitAsync` on a private word,
 * notified at once, resolves as a task rather than a microtask. Needs something else keeping the
 * event loop alive (the Worker does, on both sides), or the loop may exit under it.
 */
export class TaskYielder {
  readonly #word = new Int32Array(new SharedArrayBuffer(4));

  /** Resolves in a later task. */
  yield(): Promise<unknown> {
    const r = Atomics.waitAsync(this.#word, 0, 0);
    Atomics.notify(this.#word, 0);
    return r.async ? r.value : Promise.resolve(r.value);
  }
}

/** Microtasks within which an eager (data already waiting) receive settles; see settlesSoon. */
const EAGER_TICKS = 8;

/**
 * Whether `p` settles within a few microtasks, i.e. the op completed eagerly because a datagram
 * was already waiting (Deno 2.9.6: 3 ticks for the deno backend, 1 for node; more is harmless).
 */
export async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  p.then(done, done);
  for (let i = 0; i < EAGER_TICKS && !settled; i++) await undefined;
  return settled;
}
