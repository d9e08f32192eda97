/**
 * Many one-shot timers on one runtime timer.
 *
 * Every flow arms several timers (held SYN, dial, accept, idle after a half-close) and nearly
 * all of them are cancelled long before they fire. Deno 2.9.6's `setTimeout` builds a Node-style
 * `Timeout` (~1 KB of garbage and two ops per timer); at a few hundred connections a second that
 * was ~14% of what the main thread allocated and set the young-generation collections' pace.
 * Here a timer is one small object in a binary heap, and the runtime timer is re-armed only when
 * the earliest deadline moves earlier (or when it fires). When the queue empties the runtime timer
 * stays armed but unref'd, so an idle queue keeps nothing alive and the next flow's timers (later
 * deadlines) need no new runtime timer: a set + clear cost ~45 µs a connection in the
 * connection-rate run, a ref + unref ~0.2 µs. That holds only while a netstack holds the queue
 * ({@linkcode TimerQueue.hold}); afterwards an empty queue clears its runtime timer.
 *
 * Its size is bounded by its users: at most a few timers per held SYN, dial or flow, and those are
 * bounded by the netstack's and the proxy's limits. A cancelled timer leaves the heap at once.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

/** Longest delay a runtime timer takes (a signed 32-bit millisecond count). */
const MAX_RUNTIME_DELAY_MS = 0x7fffffff;

/** A pending timer of a {@linkcode TimerQueue}; pass it to {@linkcode TimerQueue.cancel}. */
export interface QueuedTimer {
  /** Deadline (clock milliseconds). */
  readonly at: number;
}

interface Entry extends QueuedTimer {
  at: number;
  /** Arming order: equal deadlines fire in the order they were armed. */
  seq: number;
  /** Position in the heap; -1 once fired or cancelled. */
  index: number;
  fn: (() => void) | null;
}

/** A min-heap of deadlines served by one runtime timer; see the module doc. */
export class TimerQueue {
  readonly #clock: Clock;
  readonly #heap: Entry[] = [];
  #seq = 0;
  #handle: number | null = null;
  #armedAt = Infinity;
  #holders = 0;
  readonly #onTimer = () => {
    this.#handle = null;
    this.#armedAt = Infinity;
    this.#fireDue();
  };

  /** A queue on `clock` (the system clock unless given). */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  /** Timers pending. */
  get size(): number {
    return this.#heap.length;
  }

  /** Calls `fn` once, `ms` milliseconds from now (unless cancelled first). */
  schedule(fn: () => void, ms: number): QueuedTimer {
    const wasIdle = this.#heap.length === 0;
    const entry: Entry = {
      at: this.#clock.now() + (ms > 0 ? ms : 0), // NaN and negatives: now
      seq: this.#seq++,
      index: this.#heap.length,
      fn,
    };
    this.#heap.push(entry);
    this.#up(entry.index);
    if (entry.at < this.#armedAt) this.#arm(entry.at);
    else if (wasIdle && this.#handle !== null) this.#clock.refTimer?.(this.#handle); // see #idle
    return entry;
  }

  /** Cancels `timer`; a timer that already fired or was cancelled is ignored. */
  cancel(timer: QueuedTimer | undefined): void {
    const entry = timer as Entry | undefined;
    if (entry === undefined || entry.index < 0) return;
    this.#remove(entry.index);
    entry.fn = null; // the caller may keep the handle; what the callback holds need not stay
    if (this.#heap.length === 0) this.#idle();
  }

  /**
   * Registers a long-lived user (a netstack): while one holds the queue, an empty queue keeps its
   * runtime timer armed but unref'd for the next timer. Without holders it is cleared, so nothing
   * outlives its owner — Deno's test sanitizer counts even an unref'd timer.
   */
  hold(): void {
    this.#holders++;
  }

  /** Ends a {@linkcode TimerQueue.hold}; the last one clears an idle runtime timer. */
  release(): void {
    if (this.#holders > 0) this.#holders--;
    if (this.#holders === 0 && this.#heap.length === 0) this.#disarm();
  }

  /** Cancels every timer. */
  clear(): void {
    for (const e of this.#heap) {
      e.index = -1;
      e.fn = null;
    }
    this.#heap.length = 0;
    this.#disarm();
  }

  #fireDue(): void {
    const now = this.#clock.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const e = heap[0]!;
      this.#remove(0);
      const fn = e.fn!;
      e.fn = null;
      try {
        fn();
      } catch (err) {
        // As an uncaught error in a runtime timer, without stopping the other due timers.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    if (heap.length > 0 && heap[0]!.at < this.#armedAt) this.#arm(heap[0]!.at);
  }

  #arm(at: number): void {
    if (this.#handle !== null) this.#clock.clearTimeout(this.#handle);
    this.#armedAt = at;
    // Runtime timers take at most 2^31-1 ms (longer fires at once); a later deadline re-arms.
    const delay = Math.min(Math.max(0, at - this.#clock.now()), MAX_RUNTIME_DELAY_MS);
    this.#handle = this.#clock.setTimeout(this.#onTimer, delay);
  }

  #disarm(): void {
    if (this.#handle !== null) this.#clock.clearTimeout(this.#handle);
    this.#handle = null;
    this.#armedAt = Infinity;
  }

  /** The queue emptied: the runtime timer may stay armed, but must not keep the process alive. */
  #idle(): void {
    if (this.#handle === null) return;
    if (
      this.#holders === 0 || this.#clock.unrefTimer === undefined ||
      this.#clock.refTimer === undefined
    ) {
      this.#disarm();
      return;
    }
    this.#clock.unrefTimer(this.#handle);
  }

  #remove(i: number): void {
    const heap = this.#heap;
    const gone = heap[i]!;
    gone.index = -1;
    const last = heap.pop()!;
    if (last !== gone) {
      heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
  }

  #before(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const e = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!this.#before(e, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = e;
    e.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const e = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#before(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!this.#before(child, e)) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = e;
    e.index = i;
  }
}

/** The process's shared queue on the system clock (flows' timers in the netstack and proxy). */
export const flowTimers: TimerQueue = new TimerQueue();
