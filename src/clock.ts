/**
 * Time as the protocol timers see it. The device and proxy take a {@linkcode Clock} so tests can
 * drive hours of timer behaviour instantly with {@linkcode ManualClock}.
 *
 * @module
 */

/** A source of monotonic milliseconds and one-shot timers. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): number;
  /** Cancels a timer made by {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: number): void;
  /** Lets a pending timer stop keeping the process alive (`Deno.unrefTimer`); optional. */
  unrefTimer?(handle: number): void;
  /** Undoes {@linkcode Clock.unrefTimer}; optional. */
  refTimer?(handle: number): void;
}

/** The real clock: `performance.now()` and the runtime's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as number,
  clearTimeout: (h) => clearTimeout(h),
  unrefTimer: (h) => Deno.unrefTimer(h),
  refTimer: (h) => Deno.refTimer(h),
};

/**
 * A clock that only moves when told to; timers fire in order during {@linkcode ManualClock.advance}.
 *
 * @example
 * ```ts
 * import { ManualClock } from "@newt/proxy";
 * const clock = new ManualClock();
 * let fired = false;
 * clock.setTimeout(() => fired = true, 1000);
 * clock.advance(999);
 * if (fired) throw new Error("too early");
 * clock.advance(1);
 * if (!fired) throw new Error("did not fire");
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #unrefed = new Set<number>();

  /** Starts the clock at `start` ms. */
  constructor(start = 0) {
    this.#now = start;
  }

  /** Current time in ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at now + ms. */
  setTimeout(fn: () => void, ms: number): number {
    const h = this.#next++;
    this.#timers.set(h, { at: this.#now + Math.max(0, ms), fn });
    return h;
  }

  /** Cancels a timer. */
  clearTimeout(handle: number): void {
    this.#timers.delete(handle);
    this.#unrefed.delete(handle);
  }

  /** Marks a pending timer as not keeping anything alive (see {@linkcode ManualClock.alive}). */
  unrefTimer(handle: number): void {
    if (this.#timers.has(handle)) this.#unrefed.add(handle);
  }

  /** Undoes {@linkcode ManualClock.unrefTimer}. */
  refTimer(handle: number): void {
    this.#unrefed.delete(handle);
  }

  /** Number of timers pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Number of pending timers not unref'd: those that would keep a process alive. */
  get alive(): number {
    return this.#timers.size - this.#unrefed.size;
  }

  /** Moves time forward by `ms`, firing due timers in time order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#unrefed.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = end;
  }
}

/**
 * A restartable one-shot timer (wireguard-go's `Timer`: `mod`, `del`, `isPending`).
 *
 * The data path re-arms and disarms timers for every packet, so this keeps a deadline and lets
 * the underlying runtime timer lag behind it: `del` only forgets the deadline, and `mod` to a
 * later time leaves the scheduled timer in place (when it fires early it re-arms for the rest).
 * Only moving the deadline earlier touches the runtime's timers.
 */
export class Timer {
  #handle: number | null = null;
  #scheduledAt = Infinity;
  #deadline: number | null = null;

  /** Creates an idle timer that calls `fn` when it expires. */
  constructor(private readonly clock: Clock, private readonly fn: () => void) {}

  /** (Re)arms the timer to expire `ms` from now. */
  mod(ms: number): void {
    const at = this.clock.now() + Math.max(0, ms);
    this.#deadline = at;
    if (this.#handle !== null && this.#scheduledAt <= at) return;
    this.#schedule(at);
  }

  /** Disarms the timer. */
  del(): void {
    this.#deadline = null;
  }

  /** Whether the timer is armed. */
  get isPending(): boolean {
    return this.#deadline !== null;
  }

  /** Cancels the runtime timer too (for shutdown, so nothing keeps the process alive). */
  stop(): void {
    this.#deadline = null;
    if (this.#handle !== null) this.clock.clearTimeout(this.#handle);
    this.#handle = null;
    this.#scheduledAt = Infinity;
  }

  #schedule(at: number): void {
    if (this.#handle !== null) this.clock.clearTimeout(this.#handle);
    this.#scheduledAt = at;
    this.#handle = this.clock.setTimeout(() => this.#fire(), at - this.clock.now());
  }

  #fire(): void {
    this.#handle = null;
    this.#scheduledAt = Infinity;
    const d = this.#deadline;
    if (d === null) return;
    if (d > this.clock.now()) {
      this.#schedule(d);
      return;
    }
    this.#deadline = null;
    this.fn();
  }
}
