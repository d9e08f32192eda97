/**
 * How busy a socket has been lately, cheaply: callers add to {@link LoadWindow.count} per
 * datagram (one, or its bytes; no clock read) and ask {@link LoadWindow.load} only when a decision
 * depends on it, which reads the clock and rolls the window. A window that ran long because nobody
 * asked still counts, at its rate (scaled to one window), so a long busy stretch is not mistaken
 * for a quiet one.
 *
 * @module
 */

/** Datagrams (or their bytes) counted over a window of time; see the module doc. */
export class LoadWindow {
  /** Datagrams (or bytes) since the current window began: callers add to it directly. */
  count = 0;
  readonly #windowMs: number;
  #previous = 0;
  #start: number;

  /**
   * @param windowMs length of one window
   * @param now the clock's reading at the start
   */
  constructor(windowMs: number, now: number) {
    this.#windowMs = windowMs;
    this.#start = now;
  }

  /**
   * Forgets everything counted: a window nobody asked about for a long while would otherwise
   * spread traffic that ended long ago over the time since (see the class doc).
   */
  restart(now: number): void {
    this.count = 0;
    this.#previous = 0;
    this.#start = now;
  }

  /** The count this window and the last (rolling it first, when it is over). */
  load(now: number): number {
    const age = now - this.#start;
    if (age >= this.#windowMs) {
      this.#previous = this.count * this.#windowMs / age;
      this.count = 0;
      this.#start = now;
    }
    return this.count + this.#previous;
  }
}
