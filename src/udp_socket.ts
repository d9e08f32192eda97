/**
 * The one small UDP socket interface the WireGuard device speaks, with three backends:
 *
 * - `"deno"`: `Deno.listenDatagram` (present only with `--unstable-net`). `receive(buf)` reads into
 *   the caller's reused buffer — measured ~245 k datagrams/s, 5× the async iterator (DESIGN.md,
 *   "Data-path facts").
 * - `"node"`: `node:dgram`, which works with no flag, so `deno run --allow-net jsr:@newt/proxy`
 *   runs. Datagrams arrive as events into a bounded queue (dropped and counted when full) and are
 *   copied into the caller's buffer. `recvBufferSize` is never set: it slows receiving ~50×.
 * - `"ffi"` (opt-in, `--allow-ffi`, Linux): libc through `Deno.dlopen` — its own 4 MiB kernel
 *   buffers and `recvmmsg`/`sendmmsg` batches (`udp_ffi.ts`).
 *
 * Remote addresses are plain text without brackets, and IPv4-mapped senders on a dual-stack socket
 * are reported as IPv4 (`::ffff:1.2.3.4` → `1.2.3.4`), so a peer's endpoint is the same whichever
 * socket family it reached. Send errors (EHOSTUNREACH, EAFNOSUPPORT, …) are counted in
 * {@link UdpSocket.stats}, never thrown.
 *
 * Dual stack (measured on Linux, Deno 2.9.6): a Deno socket on `::` receives IPv4 senders as
 * `::ffff:a.b.c.d` and can send to plain IPv4 addresses — but only while the system default
 * `net.ipv6.bindv6only` is 0, as Deno offers no `IPV6_V6ONLY` control. `node:dgram` with
 * `ipv6Only: false` is dual-stack regardless. {@link listenUdp} checks: when IPv4 on the same port is
 * still free after binding `::`, the `::` socket is IPv6-only, and it pairs it with an IPv4 socket
 * ({@link mergeUdpSockets}).
 *
 * @example
 * ```ts ignore
 * import { listenUdp } from "./udp_socket.ts";
 * const sock = await listenUdp({ hostname: "127.0.0.1", port: 0 });
 * const buf = new Uint8Array(65536);
 * sock.send(new Uint8Array([1, 2, 3]), { address: "127.0.0.1", port: sock.localAddr.port });
 * const got = await sock.receive(buf);
 * console.log(got?.length, got?.remote); // 3 { address: "127.0.0.1", port: … }
 * sock.close();
 * ```
 * @module
 */

import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import { listenUdpFfi } from "./udp_ffi.ts";
import { TaskYielder } from "./udp_worker/ring.ts";

/** A datagram's sender or destination; `address` is IP text without brackets. */
export interface UdpRemote {
  /** IPv4 or IPv6 address text, no brackets, no zone. */
  address: string;
  /** UDP port. */
  port: number;
}

/** Result of one {@link UdpSocket.receive}. */
export interface UdpReceived {
  /** Bytes written to the caller's buffer. */
  length: number;
  /** Sender (IPv4-mapped addresses normalised to IPv4). */
  remote: UdpRemote;
}

/** Counters of a {@link UdpSocket}. */
export interface UdpStats {
  /** Datagrams handed to callers. */
  received: number;
  /** Send calls made. */
  sent: number;
  /** Sends that failed (unreachable, wrong family, closed socket …). */
  sendErrors: number;
  /** Text of the most recent send error. */
  lastSendError: string | undefined;
  /** Datagrams dropped because the node backend's queue was full. */
  dropped: number;
  /** Datagrams longer than the caller's buffer (cut to fit). */
  truncated: number;
}

/** A bound UDP socket. */
export interface UdpSocket {
  /** Bound address and port. */
  readonly localAddr: { hostname: string; port: number };
  /** Which implementation is underneath. */
  readonly backend: UdpBackend;
  /**
   * True when `send` has copied `data` by the time it returns, so the caller may reuse its buffer
   * at once (the Worker socket copies into its ring); otherwise `data` must stay untouched.
   */
  readonly copiesOnSend?: boolean;
  /** Counters; read at any time. */
  readonly stats: UdpStats;
  /** Receives one datagram into buf; resolves with its length and sender, or null once closed. */
  receive(buf: Uint8Array): Promise<UdpReceived | null>;
  /**
   * Whether a datagram is already waiting, so the next `receive` completes at once. Only sockets
   * that can tell cheaply have it (the Worker's: its ring is not empty).
   */
  hasPending?(): boolean;
  /**
   * For sockets that at times receive on a second socket of the same port (the Worker socket's
   * quiet mode): `start` is called with each such socket and should receive from it, as from this
   * one, until it resolves null. Datagrams arrive on either; sends go through this one.
   */
  onSideSocket?(start: (side: UdpSocket) => void): void;
  /**
   * Sends without awaiting completion (errors counted, not thrown). Unless `copiesOnSend`, the
   * socket may read `data` after this returns: do not modify it afterwards. Order is not
   * guaranteed: measured in Deno 2.9.6, sends that have to wait (fresh socket, full send buffer,
   * beyond the first ~128–256 of one turn of the event loop) go out in reverse order; the deno
   * backend holds back what would go beyond ({@link SENDS_PER_TURN}).
   */
  send(data: Uint8Array, to: UdpRemote): void;
  /**
   * Tells a socket that bounds its sends per turn of the event loop (the deno backend, see
   * {@link SENDS_PER_TURN}) that this is a later turn than its last send — the caller awaited a
   * task since — so it may count afresh without a wake-up of its own. Optional.
   */
  turnEnded?(): void;
  /**
   * Tells the socket that its traffic now comes (true) or no longer comes (false) from a sender
   * that paces a long path (`Netstack.onLongPath`): each send is timed, so a socket that hands
   * sends over to another thread (the Worker's) sends them on the caller's thread while that
   * one is idle instead of waiting for a wake-up. Optional.
   */
  setLongPath?(active: boolean): void;
  /** Closes the socket; a pending and every later `receive` resolves null. Idempotent. */
  close(): void;
}

/** Options for {@link listenUdp}. */
export interface ListenUdpOptions {
  /** Address to bind; default `"::"` when `dualStack`, else `"0.0.0.0"`. */
  hostname?: string | undefined;
  /** Port; default 0 (any free port). */
  port?: number | undefined;
  /**
   * `"auto"` (default) picks `"deno"` when `Deno.listenDatagram` exists, else `"node"`; `"ffi"`
   * (opt-in, `--allow-ffi`, Linux) is libc through `Deno.dlopen`: 4 MiB kernel buffers and
   * `recvmmsg`/`sendmmsg` batches (see `udp_ffi.ts`).
   */
  backend?: "auto" | UdpBackend | undefined;
  /** Receive IPv4 too on an IPv6 wildcard bind. Default false. */
  dualStack?: boolean | undefined;
  /** Node backend: most datagrams held between `receive` calls before dropping. Default 4096. */
  queueLimit?: number | undefined;
  /**
   * Deno backend: bind with `SO_REUSEADDR`, so that a second socket may share the port (the UDP
   * Worker's direct-send socket, `udp_worker_socket.ts`). Default false: the port is exclusive.
   */
  reuseAddress?: boolean | undefined;
  /**
   * Deno backend: send buffers it may keep for reuse (default {@link SEND_POOL_BUFFERS}); sends
   * beyond them take a fresh copy each. A socket of its own per UDP session keeps a few.
   */
  sendBuffers?: number | undefined;
}

/** The implementations behind {@link UdpSocket}. */
export type UdpBackend = "deno" | "node" | "ffi";

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged. */
export function normaliseAddress(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 0x3a) {
    const lower = address.slice(0, 7).toLowerCase();
    if (lower === "::ffff:" && address.includes(".")) return address.slice(7);
  }
  return address;
}

/** Whether `port` is no UDP port (Deno silently truncates ports to 16 bits: check first). */
export function badPort(port: number): boolean {
  return !(port >= 1 && port <= 65535 && Number.isInteger(port));
}

/** Fresh {@link UdpStats}, all zero. */
export function newStats(): UdpStats {
  return {
    received: 0,
    sent: 0,
    sendErrors: 0,
    lastSendError: undefined,
    dropped: 0,
    truncated: 0,
  };
}

// --- Deno backend ------------------------------------------------------------------------------

interface DenoNetAddr {
  hostname: string;
  port: number;
}
type DenoSendAddr = DenoNetAddr & { transport: "udp" };
interface DenoDatagramConn {
  readonly addr: DenoNetAddr;
  receive(p?: Uint8Array): Promise<[Uint8Array, DenoNetAddr]>;
  send(p: Uint8Array, addr: DenoSendAddr): Promise<number>;
  close(): void;
}
type ListenDatagram = (
  opts: { transport: "udp"; hostname: string; port: number; reuseAddress: boolean },
) => DenoDatagramConn;

function denoListenDatagram(): ListenDatagram | undefined {
  const fn = (Deno as unknown as { listenDatagram?: ListenDatagram }).listenDatagram;
  return typeof fn === "function" ? fn : undefined;
}

/** Whether the `"deno"` backend is available (`--unstable-net` or `"unstable": ["net"]`). */
export function hasDenoDatagram(): boolean {
  return denoListenDatagram() !== undefined;
}

/**
 * Buffers a Deno socket's sends copy into, at most by default (made as they are needed; see
 * {@link ListenUdpOptions.sendBuffers}): the send op may read its buffer after `send` returns,
 * so each is reused once its send has settled. A send beyond them, or of a datagram larger than
 * {@link SEND_POOL_BYTES}, takes a fresh copy — which costs ~1 µs more a datagram than the pool's
 * (an ArrayBuffer each; ~3.0 against ~2.0 µs a send, measured in a loop of 200k on this machine,
 * Deno 2.9.6).
 */
export const SEND_POOL_BUFFERS = 256;
/** Bytes of one pooled send buffer: a full-size WireGuard datagram (1,500-byte MTU) fits. */
export const SEND_POOL_BYTES = 2048;
/**
 * Sends a Deno socket starts in one turn of the event loop; the rest wait, in order, for the
 * next. Deno defers a turn's async ops past its first ~128–256 (fewer with other ops in the turn)
 * and runs the deferred ones newest first (measured, 2.9.6): a longer burst left reversed.
 */
export const SENDS_PER_TURN = 128;
/** Datagrams waiting for a later turn at most; a send beyond is dropped and counted. */
export const SEND_QUEUE_LIMIT = 4096;

class DenoUdpSocket implements UdpSocket {
  readonly backend = "deno" as const;
  readonly copiesOnSend = true;
  readonly stats: UdpStats = newStats();
  readonly localAddr: { hostname: string; port: number };
  #conn: DenoDatagramConn;
  #closed = false;
  readonly #onSendError = (err: unknown) => {
    this.stats.sendErrors++;
    this.stats.lastSendError = String(err);
  };
  // Sends started since the count last started again (at most SENDS_PER_TURN in any one turn of
  // the event loop), and those waiting for a later turn (FIFO).
  #turnSends = 0;
  readonly #turn = new TaskYielder();
  #queue: { data: Uint8Array; addr: DenoSendAddr }[] = [];
  #queueHead = 0;
  // The send pool: buffer i is free while i is in #free; its settle handlers put it back.
  readonly #pool: Uint8Array[] = [];
  readonly #free: number[] = [];
  readonly #settled: (() => void)[] = [];
  readonly #failed: ((err: unknown) => void)[] = [];

  readonly #poolLimit: number;

  constructor(conn: DenoDatagramConn, sendBuffers = SEND_POOL_BUFFERS) {
    this.#conn = conn;
    this.#poolLimit = sendBuffers;
    this.localAddr = { hostname: conn.addr.hostname, port: conn.addr.port };
  }

  async receive(buf: Uint8Array): Promise<UdpReceived | null> {
    if (this.#closed) return null;
    let data: Uint8Array;
    let addr: DenoNetAddr;
    try {
      [data, addr] = await this.#conn.receive(buf);
    } catch (err) {
      if (this.#closed) return null;
      throw err;
    }
    let length = data.length;
    if (data.buffer !== buf.buffer || data.byteOffset !== buf.byteOffset) {
      // Not filled in place (not observed in 2.9.6, but not promised either): copy.
      length = Math.min(length, buf.length);
      buf.set(data.subarray(0, length));
    }
    this.stats.received++;
    return { length, remote: { address: normaliseAddress(addr.hostname), port: addr.port } };
  }

  send(data: Uint8Array, to: UdpRemote): void {
    this.stats.sent++;
    if (badPort(to.port)) return this.#onSendError(new RangeError(`invalid port ${to.port}`));
    const addr = { transport: "udp" as const, hostname: to.address, port: to.port };
    if (this.#turnSends < SENDS_PER_TURN && this.#queue.length === this.#queueHead) {
      return this.#start(data, addr);
    }
    // The rest of a long burst waits for the next turn, in order behind what already waits.
    if (this.#queue.length - this.#queueHead >= SEND_QUEUE_LIMIT) {
      return this.#onSendError(new Error(`send queue full (${SEND_QUEUE_LIMIT} datagrams)`));
    }
    this.#queue.push({ data: data.slice(), addr });
  }

  /**
   * Starts the send op: from a pool buffer, or a fresh copy when none is left or it is large;
   * `owned` bytes (a queued send's copy) are sent as they are.
   */
  #start(data: Uint8Array, addr: DenoSendAddr, owned = false): void {
    // The count starts again in a later task, asked for once half the budget is spent: never
    // within this turn, and a wake-up per 64 sends at most rather than one per turn (sparse sends,
    // and a caller that says when its turns end, pay nothing).
    if (++this.#turnSends === SENDS_PER_TURN / 2 + 1) this.#turn.yield().then(this.#nextTurn);
    const i = !owned && data.length <= SEND_POOL_BYTES ? (this.#free.pop() ?? this.#grow()) : -1;
    try {
      if (i < 0) {
        this.#conn.send(owned ? data : data.slice(), addr).catch(this.#onSendError);
        return;
      }
      const buf = this.#pool[i]!;
      buf.set(data);
      this.#conn.send(buf.subarray(0, data.length), addr).then(this.#settled[i], this.#failed[i]);
    } catch (err) {
      if (i >= 0) this.#free.push(i);
      this.#onSendError(err);
    }
  }

  turnEnded(): void {
    if (this.#queueHead === this.#queue.length) this.#turnSends = 0;
  }

  /** A later turn: the count starts again, and what waits goes first. */
  readonly #nextTurn = () => {
    this.#turnSends = 0;
    const q = this.#queue;
    while (this.#queueHead < q.length && this.#turnSends < SENDS_PER_TURN && !this.#closed) {
      const { data, addr } = q[this.#queueHead]!;
      q[this.#queueHead++] = undefined!;
      this.#start(data, addr, true);
    }
    if (this.#queueHead === q.length || this.#closed) {
      q.length = 0;
      this.#queueHead = 0;
    }
  };

  /** A new pool buffer's index, or -1 at the bound. */
  #grow(): number {
    const i = this.#pool.length;
    if (i >= this.#poolLimit) return -1;
    this.#pool.push(new Uint8Array(SEND_POOL_BYTES));
    this.#settled.push(() => {
      this.#free.push(i);
    });
    this.#failed.push((err) => {
      this.#free.push(i);
      this.#onSendError(err);
    });
    return i;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queueHead = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

// --- node:dgram backend ------------------------------------------------------------------------

interface Waiter {
  buf: Uint8Array;
  resolve: (r: UdpReceived | null) => void;
}

class NodeUdpSocket implements UdpSocket {
  readonly backend = "node" as const;
  readonly stats: UdpStats = newStats();
  readonly localAddr: { hostname: string; port: number };
  readonly #sock: dgram.Socket;
  readonly #queueLimit: number;
  // Ring-free FIFO: an array with a moving head, compacted when half consumed.
  #queue: { msg: Buffer; remote: UdpRemote }[] = [];
  #head = 0;
  #waiter: Waiter | null = null;
  #closed = false;
  readonly #onSent = (err: Error | null) => {
    if (err) {
      this.stats.sendErrors++;
      this.stats.lastSendError = String(err);
    }
  };

  constructor(sock: dgram.Socket, queueLimit: number) {
    this.#sock = sock;
    this.#queueLimit = queueLimit;
    const a = sock.address();
    this.localAddr = { hostname: a.address, port: a.port };
    sock.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.#onMessage(msg, rinfo));
    // An unhandled 'error' event would crash the process; receive errors are not actionable here.
    sock.on("error", () => {});
  }

  #deliver(w: Waiter, msg: Uint8Array, remote: UdpRemote): void {
    let length = msg.length;
    if (length > w.buf.length) {
      this.stats.truncated++;
      length = w.buf.length;
    }
    w.buf.set(length === msg.length ? msg : msg.subarray(0, length));
    this.stats.received++;
    w.resolve({ length, remote });
  }

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const remote = { address: normaliseAddress(rinfo.address), port: rinfo.port };
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      this.#deliver(w, msg, remote);
      return;
    }
    if (this.#queue.length - this.#head >= this.#queueLimit) {
      this.stats.dropped++;
      return;
    }
    this.#queue.push({ msg, remote });
  }

  receive(buf: Uint8Array): Promise<UdpReceived | null> {
    if (this.#closed) return Promise.resolve(null);
    if (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head++]!;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return new Promise((resolve) => this.#deliver({ buf, resolve }, item.msg, item.remote));
    }
    if (this.#waiter !== null) {
      return Promise.reject(new Error("UdpSocket.receive: a receive is already pending"));
    }
    return new Promise((resolve) => {
      this.#waiter = { buf, resolve };
    });
  }

  send(data: Uint8Array, to: UdpRemote): void {
    this.stats.sent++;
    if (badPort(to.port)) return this.#onSent(new RangeError(`invalid port ${to.port}`));
    try {
      this.#sock.send(data, to.port, to.address, this.#onSent);
    } catch (err) {
      this.#onSent(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    const w = this.#waiter;
    this.#waiter = null;
    w?.resolve(null);
    try {
      this.#sock.close();
    } catch {
      // already closed
    }
  }
}

function bindNode(
  type: "udp4" | "udp6",
  hostname: string,
  port: number,
  ipv6Only: boolean,
): Promise<dgram.Socket> {
  const sock = type === "udp6"
    ? dgram.createSocket({ type, ipv6Only })
    : dgram.createSocket({ type });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      try {
        sock.close();
      } catch {
        // not bound
      }
      reject(err);
    };
    sock.once("error", onError);
    sock.bind(port, hostname, () => {
      sock.off("error", onError);
      resolve(sock);
    });
  });
}

// --- dual stack from two sockets ---------------------------------------------------------------

const SCRATCH_SIZE = 65536;

class MergedUdpSocket implements UdpSocket {
  readonly stats: UdpStats = newStats();
  readonly copiesOnSend: boolean;
  readonly backend: UdpBackend;
  readonly localAddr: { hostname: string; port: number };
  readonly #v6: UdpSocket;
  readonly #v4: UdpSocket;
  // One outstanding receive per child, each into its own scratch buffer.
  readonly #pending: [
    Promise<[number, UdpReceived | null]> | null,
    Promise<[number, UdpReceived | null]> | null,
  ] = [null, null];
  readonly #scratch = [new Uint8Array(SCRATCH_SIZE), new Uint8Array(SCRATCH_SIZE)] as const;
  #closed = false;

  constructor(v6: UdpSocket, v4: UdpSocket) {
    this.#v6 = v6;
    this.#v4 = v4;
    this.copiesOnSend = v6.copiesOnSend === true && v4.copiesOnSend === true;
    this.backend = v6.backend;
    this.localAddr = v6.localAddr;
  }

  #arm(i: 0 | 1): Promise<[number, UdpReceived | null]> {
    let p = this.#pending[i];
    if (p === null) {
      const sock = i === 0 ? this.#v6 : this.#v4;
      p = sock.receive(this.#scratch[i]).then((r) => [i, r] as [number, UdpReceived | null]);
      this.#pending[i] = p;
    }
    return p;
  }

  async receive(buf: Uint8Array): Promise<UdpReceived | null> {
    while (!this.#closed) {
      const [i, r] = await Promise.race([this.#arm(0), this.#arm(1)]);
      this.#pending[i as 0 | 1] = null;
      if (r === null) {
        if (this.#closed) return null;
        continue; // one child closed on its own: keep serving the other
      }
      let length = r.length;
      if (length > buf.length) {
        this.stats.truncated++;
        length = buf.length;
      }
      buf.set(this.#scratch[i as 0 | 1].subarray(0, length));
      this.stats.received++;
      return { length, remote: r.remote };
    }
    return null;
  }

  send(data: Uint8Array, to: UdpRemote): void {
    this.stats.sent++;
    const address = normaliseAddress(to.address);
    const sock = address.includes(":") ? this.#v6 : this.#v4;
    const before = sock.stats.sendErrors;
    sock.send(data, { address, port: to.port });
    if (sock.stats.sendErrors !== before) this.stats.sendErrors++;
  }

  turnEnded(): void {
    this.#v6.turnEnded?.();
    this.#v4.turnEnded?.();
  }

  setLongPath(active: boolean): void {
    this.#v6.setLongPath?.(active);
    this.#v4.setLongPath?.(active);
  }

  get childStats(): [UdpStats, UdpStats] {
    return [this.#v6.stats, this.#v4.stats];
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#v6.close();
    this.#v4.close();
  }
}

/**
 * Joins an IPv6 and an IPv4 socket into one: `receive` takes whichever datagram comes first (one
 * extra copy per datagram), `send` picks the socket by the destination's family. Used when `::`
 * is IPv6-only; exported for tests and for callers that bind two specific addresses.
 * Asynchronous send errors stay in the child sockets' stats.
 */
export function mergeUdpSockets(v6: UdpSocket, v4: UdpSocket): UdpSocket {
  return new MergedUdpSocket(v6, v4);
}

/** Whether `sock` joins two sockets ({@link mergeUdpSockets}: `::` is IPv6-only here). */
export function isMergedUdpSocket(sock: UdpSocket): boolean {
  return sock instanceof MergedUdpSocket;
}

// --- listen ------------------------------------------------------------------------------------

function isAddrInUse(err: unknown): boolean {
  if (err instanceof Deno.errors.AddrInUse) return true;
  const code = (err as { code?: unknown })?.code;
  return code === "EADDRINUSE" || /address already in use/i.test(String(err));
}

/**
 * Binds a UDP socket. Throws what the runtime throws for a failed bind (e.g. `AddrInUse`,
 * `NotCapable` without net permission).
 */
export async function listenUdp(opts: ListenUdpOptions = {}): Promise<UdpSocket> {
  const dualStack = opts.dualStack ?? false;
  const hostname = opts.hostname ?? (dualStack ? "::" : "0.0.0.0");
  const port = opts.port ?? 0;
  const requested = opts.backend ?? "auto";
  const listenDatagram = denoListenDatagram();
  const backend = requested === "auto" ? (listenDatagram ? "deno" : "node") : requested;
  if (backend === "ffi") return listenUdpFfi(opts);
  const wildcard6 = hostname === "::" || hostname === "[::]";
  const host = hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;

  if (backend === "deno") {
    if (listenDatagram === undefined) {
      throw new Error(
        "Deno.listenDatagram is unavailable: run with --unstable-net or use backend 'node'",
      );
    }
    const reuseAddress = opts.reuseAddress ?? false;
    const sendBuffers = opts.sendBuffers;
    const main = new DenoUdpSocket(
      listenDatagram({ transport: "udp", hostname: host, port, reuseAddress }),
      sendBuffers,
    );
    if (!(dualStack && wildcard6)) return main;
    // Probe: if 0.0.0.0 on the same port is still free, `::` is IPv6-only here (bindv6only=1).
    // (With reuseAddress the probe always succeeds: the caller asks for dualStack only where it
    // found `::` IPv6-only, see udp_worker_socket.ts.)
    let v4: DenoDatagramConn;
    try {
      v4 = listenDatagram({
        transport: "udp",
        hostname: "0.0.0.0",
        port: main.localAddr.port,
        reuseAddress,
      });
    } catch (err) {
      if (isAddrInUse(err)) return main; // the IPv6 socket already covers IPv4: dual-stack
      main.close();
      throw err;
    }
    return mergeUdpSockets(main, new DenoUdpSocket(v4, sendBuffers));
  }

  const queueLimit = opts.queueLimit ?? 4096;
  if (host.includes(":")) {
    const sock = await bindNode("udp6", host, port, !(dualStack && wildcard6));
    return new NodeUdpSocket(sock, queueLimit);
  }
  return new NodeUdpSocket(await bindNode("udp4", host, port, false), queueLimit);
}
