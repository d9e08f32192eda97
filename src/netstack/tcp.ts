/**
 * TCP connections and listeners of the netstack, shaped like `Deno.Conn` / `Deno.Listener`.
 *
 * Backpressure: received bytes wait in this object until a reader takes them; only then is
 * lwIP told (tcp_recved), so a slow reader shrinks the peer's window instead of growing a
 * buffer. Writes wait for send-buffer space (lwIP's sent callback).
 * @module
 */
import { ClosedError, ConnectionResetError, lwipErrorName } from "./errors.ts";
import { flowTimers } from "../timer_queue.ts";

/** What a connection needs from its stack (implemented by Netstack). */
export interface TcpDriver {
  /**
   * Queues bytes; returns how many were taken, 0 (this flow's own data in flight fills its
   * quota: `onSent` follows) or WRITE_RETRY (shared memory ran short: retry after a delay).
   */
  tcpWrite(fid: number, data: Uint8Array): number;
  /** The reader consumed n bytes. */
  tcpRecved(fid: number, n: number): void;
  /** Sends FIN. */
  tcpShutdown(fid: number): void;
  /** Closes (FIN, or RST when unread data remains) and frees the id. */
  tcpClose(fid: number): void;
  /** Sends RST and frees the id. */
  tcpAbort(fid: number): void;
  /** Bytes written that the peer has not acknowledged yet (0 once the flow is gone). */
  tcpUnacked(fid: number): number;
  /**
   * While more inbound packets are about to be input at once (Netstack.inputPending), arranges
   * `conn.wakeDeferred()` for when they are all in (with the batch's coalesced ACKs) and returns
   * true; otherwise returns false. A reader that took each segment as it came handed the target
   * a segment or two per write.
   */
  deferWake(conn: TcpConn): boolean;
}

/** TcpDriver.tcpWrite's answer when the shared heap, not this flow's window, stalled a write. */
export const WRITE_RETRY = -1;

const MAX_READ_CHUNK = 64 * 1024;
/** Receive buffers grow from this size, doubling each time one fills, up to MAX_READ_CHUNK. */
const MIN_RX_BUFFER = 2 * 1024;
/** Retry interval when the shared heap, not this flow's window, stalled a write. */
const WRITE_RETRY_MS = 5;

/** A TCP connection inside the tunnel. */
export class TcpConn {
  /** The stack's side: for a proxied flow, the original destination. */
  readonly localAddr: Deno.NetAddr;
  /** The peer's side. */
  readonly remoteAddr: Deno.NetAddr;

  #driver: TcpDriver;
  #fid: number;
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queued = 0;
  #eof = false;
  #discard = false;
  #error: Error | null = null;
  /** The id is gone (closed locally, or freed by lwIP after RST/close). */
  #released = false;
  #writeClosed = false;
  #readWaiter: (() => void) | null = null;
  #closed = Promise.withResolvers<Error | null>();
  #sentWaiter: (() => void) | null = null;
  /** Segments are copied into a shared buffer; queued chunks are views of it. */
  #rxBuf: Uint8Array | null = null;
  #rxFill = 0;
  /**
   * Where the queue's open tail starts in #rxBuf (it ends at #rxFill), or -1: segments that
   * arrive back to back extend it without a view per segment; a read turns it into one.
   */
  #tailStart = -1;
  /** The driver will call wakeDeferred (see TcpDriver.deferWake). */
  #wakeDeferred = false;
  /**
   * A view of #rxBuf was handed to a reader (a read without a buffer of its own): the bytes must
   * stay. Readers that copy out (`read(buf)`, the proxy's) let the buffer be filled again.
   */
  #rxLent = false;
  #rxNext = MIN_RX_BUFFER;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** @internal Created by Netstack. */
  constructor(driver: TcpDriver, fid: number, local: Deno.NetAddr, remote: Deno.NetAddr) {
    this.#driver = driver;
    this.#fid = fid;
    this.localAddr = local;
    this.remoteAddr = remote;
  }

  /**
   * Bytes from the peer. Cancelling it discards further data. Made on first use: the proxy's
   * copy loops use `read`, and two web streams per connection were ~12 µs of the main thread's
   * time per proxied connection (and most of what it allocated).
   */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.#take(MAX_READ_CHUNK);
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel: () => {
        this.#discard = true;
        this.#dropQueued();
      },
    }, { highWaterMark: 0 });
  }

  /** Bytes to the peer; `close()` sends FIN (half-close), `abort()` sends RST. Made on first use. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: async () => {
        await this.closeWrite();
      },
      abort: () => {
        this.reset();
      },
    });
  }

  /** @internal The flow id in the wasm module (0 once released). */
  get fid(): number {
    return this.#released ? 0 : this.#fid;
  }

  /**
   * Whether the netstack no longer holds this connection: closed or aborted here, or freed by
   * lwIP after the peer's RST. Nothing more can be written or acknowledged then.
   */
  get released(): boolean {
    return this.#released;
  }

  /** Reads into `buf`; resolves to the byte count, or null at end of stream. */
  async read(buf: Uint8Array): Promise<number | null> {
    if (buf.length === 0) return 0;
    const chunk = await this.#take(buf.length, buf);
    return chunk === null ? null : chunk.length;
  }

  /** Writes all of `data`; resolves once lwIP has queued every byte. */
  async write(data: Uint8Array): Promise<number> {
    let off = 0;
    while (off < data.length) {
      this.#checkWritable();
      const n = this.#driver.tcpWrite(this.#fid, data.subarray(off, off + 0xffff));
      if (n > 0) {
        off += n;
        continue;
      }
      await this.#waitSent(n === WRITE_RETRY);
    }
    return data.length;
  }

  /** Half-close: sends FIN after everything written so far. Reading continues. */
  closeWrite(): Promise<void> {
    if (this.#writeClosed || this.#released) return Promise.resolve();
    this.#writeClosed = true;
    this.#driver.tcpShutdown(this.#fid);
    return Promise.resolve();
  }

  /** Closes both directions (FIN; RST if received data was left unread, as Linux does). */
  close(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#queued > 0) this.#driver.tcpAbort(this.#fid);
    else this.#driver.tcpClose(this.#fid);
    this.#finish(null);
  }

  /** Aborts the connection with a RST. */
  reset(): void {
    if (this.#released) return;
    this.#released = true;
    this.#driver.tcpAbort(this.#fid);
    const e = new ConnectionResetError("connection aborted locally");
    this.#finish(e);
    this.#closed.resolve(e);
  }

  /**
   * Sends RST once the peer acknowledged every byte written so far, or after `timeoutMs`: a
   * reset that follows data (a target's last bytes, then its RST) must not drop that data, as
   * an immediate abort drops whatever the windows have not let out yet.
   */
  async resetWhenSent(timeoutMs: number): Promise<void> {
    let expired = false;
    const timer = flowTimers.schedule(() => {
      expired = true;
      this.onSent();
    }, timeoutMs);
    try {
      while (!this.#released && !expired && this.#driver.tcpUnacked(this.#fid) > 0) {
        await this.#waitSent(false);
      }
    } finally {
      flowTimers.cancel(timer);
    }
    this.reset();
  }

  /** Nagle is always off on this stack; kept for `Deno.TcpConn` compatibility. */
  setNoDelay(_noDelay = true): void {}

  /** Keepalive is always on (stack options); kept for `Deno.TcpConn` compatibility. */
  setKeepAlive(_keepAlive = true): void {}

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---- events from the stack (called synchronously from wasm imports; must not call in) ----

  /** @internal Copies `len` bytes at `ptr` of the module's memory (valid only now). */
  onData(mem: Uint8Array, ptr: number, len: number): void {
    if (this.#discard) {
      this.#driver.tcpRecved(this.#fid, len);
      return;
    }
    let buf = this.#rxBuf;
    if (!buf || this.#rxFill + len > buf.length) {
      this.#closeTail();
      buf = new Uint8Array(Math.max(len, this.#rxNext));
      this.#rxNext = Math.min(this.#rxNext * 2, MAX_READ_CHUNK);
      this.#rxBuf = buf;
      this.#rxFill = 0;
      this.#rxLent = false;
    }
    const start = this.#rxFill;
    buf.set(mem.subarray(ptr, ptr + len), start);
    this.#rxFill = start + len;
    if (this.#tailStart < 0) this.#tailStart = start;
    this.#queued += len;
    if (this.#readWaiter && !this.#deferWake()) this.#wakeReader();
  }

  /** Whether the reader's wake-up waits for the end of an input batch (arranging it if not yet). */
  #deferWake(): boolean {
    if (!this.#wakeDeferred) this.#wakeDeferred = this.#driver.deferWake(this);
    return this.#wakeDeferred;
  }

  /** @internal The input batch that brought data ended: the reader takes all of it at once. */
  wakeDeferred(): void {
    this.#wakeDeferred = false;
    this.#wakeReader();
  }

  /** @internal */
  onFin(): void {
    this.#eof = true;
    this.#wakeReader();
  }

  /** @internal */
  onSent(): void {
    const w = this.#sentWaiter;
    this.#sentWaiter = null;
    w?.();
  }

  /**
   * Settles once the connection is gone: with null after a normal close of both halves, or with
   * the error that ended it (RST from the peer, abort, keepalive timeout). Never rejects.
   */
  get closed(): Promise<Error | null> {
    return this.#closed.promise;
  }

  /** @internal lwIP freed the pcb (RST from the peer, abort, or normal end of both halves). */
  onGone(err: number): void {
    this.#released = true;
    this.#closed.resolve(
      err === -15 ? null : new ConnectionResetError(`connection ${lwipErrorName(err)}`),
    );
    // ERR_CLSD: both directions finished normally.
    this.#finish(err === -15 ? null : new ConnectionResetError(`connection ${lwipErrorName(err)}`));
  }

  // ---- internals ----

  #finish(error: Error | null): void {
    if (error && !this.#error && !this.#eof) this.#error = error;
    if (!error) this.#eof = true;
    this.#writeClosed = true;
    this.#wakeReader();
    this.onSent();
  }

  #checkWritable(): void {
    if (this.#error) throw this.#error;
    if (this.#released || this.#writeClosed) throw new ClosedError("connection closed for writing");
  }

  /**
   * Waits for the sent callback. Only a stall on the shared heap also arms a short timer: then
   * no sent callback may come for this flow. A window-limited writer is woken by ACKs alone.
   */
  #waitSent(retry: boolean): Promise<void> {
    return new Promise((resolve) => {
      if (!retry) {
        this.#sentWaiter = resolve;
        return;
      }
      const timer = setTimeout(() => {
        if (this.#sentWaiter === done) this.#sentWaiter = null;
        resolve();
      }, WRITE_RETRY_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#sentWaiter = done;
    });
  }

  #wakeReader(): void {
    const w = this.#readWaiter;
    this.#readWaiter = null;
    w?.();
  }

  /** Turns the open tail into a queued view (before a read, or when the receive buffer changes). */
  #closeTail(): void {
    if (this.#tailStart < 0) return;
    this.#queue.push(this.#rxBuf!.subarray(this.#tailStart, this.#rxFill));
    this.#tailStart = -1;
  }

  #dropQueued(): void {
    const n = this.#queued;
    this.#tailStart = -1;
    this.#queue = [];
    this.#queueHead = 0;
    this.#queued = 0;
    if (n > 0 && !this.#released) this.#driver.tcpRecved(this.#fid, n);
  }

  /** Takes up to `max` queued bytes (into `into` when given); null at EOF. */
  async #take(max: number, into?: Uint8Array): Promise<Uint8Array | null> {
    // One wait at most for the end of an input batch: while other flows keep packets coming the
    // link may always have more, and a reader must not wait for a quiet moment.
    let waited = false;
    for (;;) {
      if (this.#queued > 0) {
        // While more packets are about to come in, take them with these once the batch is in.
        if (waited || this.#queued >= max || this.#eof || this.#released || !this.#deferWake()) {
          break;
        }
      } else {
        if (this.#error) throw this.#error;
        if (this.#eof || this.#released) return null;
      }
      await new Promise<void>((resolve) => this.#readWaiter = resolve);
      waited = true;
    }
    this.#closeTail();
    let out: Uint8Array;
    const first = this.#queue[this.#queueHead]!;
    if (!into && first.length >= max) {
      out = first.subarray(0, max);
      this.#rxLent = true;
      if (first.length === max) this.#queueHead++;
      else this.#queue[this.#queueHead] = first.subarray(max);
    } else if (!into && this.#queue.length - this.#queueHead === 1) {
      out = first;
      this.#rxLent = true;
      this.#queueHead++;
    } else {
      const total = Math.min(max, this.#queued);
      out = into ? into.subarray(0, total) : new Uint8Array(total);
      let off = 0;
      while (off < total) {
        const c = this.#queue[this.#queueHead]!;
        const n = Math.min(c.length, total - off);
        out.set(n === c.length ? c : c.subarray(0, n), off);
        off += n;
        if (n === c.length) this.#queueHead++;
        else this.#queue[this.#queueHead] = c.subarray(n);
      }
    }
    if (this.#queueHead > 64 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    this.#queued -= out.length;
    if (this.#queued === 0) {
      this.#queue.length = 0;
      this.#queueHead = 0;
      if (!this.#rxLent) {
        this.#rxFill = 0; // every byte was copied out: fill the same buffer again
      } else if (this.#rxBuf && this.#rxFill * 2 > this.#rxBuf.length) {
        // mostly handed out: let the consumer's views keep it, start afresh next time
        this.#rxBuf = null;
        this.#rxLent = false;
      }
    }
    if (!this.#released) this.#driver.tcpRecved(this.#fid, out.length);
    return out;
  }
}

/** A listener on the stack's own addresses; iterate it for incoming connections. */
export class TcpListener implements AsyncIterable<TcpConn> {
  /** The bound address (any-address of the family, and the port). */
  readonly addr: Deno.NetAddr;
  #pending: TcpConn[] = [];
  #waiter: ((c: TcpConn | null) => void) | null = null;
  #closed = false;
  #onClose: () => void;
  #backlog: number;

  /** @internal Created by Netstack. */
  constructor(addr: Deno.NetAddr, onClose: () => void, backlog = 1024) {
    this.addr = addr;
    this.#onClose = onClose;
    this.#backlog = backlog;
  }

  /** Waits for the next connection. Rejects once closed. */
  accept(): Promise<TcpConn> {
    const c = this.#pending.shift();
    if (c) return Promise.resolve(c);
    if (this.#closed) return Promise.reject(new ClosedError("listener closed"));
    return new Promise((resolve, reject) => {
      this.#waiter = (conn) => conn ? resolve(conn) : reject(new ClosedError("listener closed"));
    });
  }

  /** Stops listening; connections already accepted stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    for (const c of this.#pending) c.close();
    this.#pending = [];
    const w = this.#waiter;
    this.#waiter = null;
    w?.(null);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    while (true) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  /** @internal A handshake completed on this listener. */
  onConn(conn: TcpConn): void {
    if (this.#closed) {
      conn.reset();
      return;
    }
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w(conn);
      return;
    }
    if (this.#pending.length >= this.#backlog) {
      conn.reset();
      return;
    }
    this.#pending.push(conn);
  }
}
