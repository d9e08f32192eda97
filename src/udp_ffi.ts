/**
 * The `"ffi"` backend of `listenUdp`: a UDP socket on libc through `Deno.dlopen` (Linux, 64-bit),
 * for hosts where the socket itself is the bottleneck.
 *
 * - Its kernel buffers are set (`SO_RCVBUF` / `SO_SNDBUF`, 4 MiB each by default; the kernel caps
 *   them at `net.core.rmem_max` / `wmem_max` unless the process may use the `*FORCE` options, as
 *   root may). Deno's own sockets keep the 208 KiB default, which lasts ~7 ms at 250 Mbit/s: a
 *   receiver descheduled longer loses datagrams in the kernel.
 * - It receives with `recvmmsg` (up to {@link FFI_BATCH} datagrams a call, the call waiting on
 *   Deno's blocking-call thread) and sends with `sendmmsg` (the sends of one synchronous run in
 *   one call), where Deno makes one op per datagram.
 *
 * Opt-in only. FFI bypasses Deno's permission checks for this socket (its bind and its sends), so
 * it needs `--allow-ffi`, which is as much as `--allow-all`; the WireGuard device still checks a
 * peer's endpoint against the net permission before it sends there.
 *
 * Structure layouts are those of LP64 Linux (x86_64, aarch64): `msghdr` 56 bytes, `mmsghdr` 64,
 * `iovec` 16, `sockaddr_in6` 28.
 *
 * @module
 */

import { BoundedCache } from "./bounded_cache.ts";
import {
  badPort,
  type ListenUdpOptions,
  newStats,
  type UdpReceived,
  type UdpRemote,
  type UdpSocket,
  type UdpStats,
} from "./udp_socket.ts";
import { formatIp, isV4Mapped, tryParseIp } from "./wire/ip_address.ts";

/** Datagrams one `recvmmsg` / `sendmmsg` call moves at most. */
export const FFI_BATCH = 32;
/** Bytes per batch slot: a datagram longer than this is cut (received) or sent on its own. */
export const FFI_SLOT_BYTES = 9216;
/** Default kernel buffer size asked for, each direction. */
export const FFI_DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;
/** A waiting `recvmmsg` returns this often, so a closed socket is noticed even without a wake. */
const RECEIVE_TIMEOUT_US = 200_000;

// Linux constants (the same on x86_64 and aarch64).
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const MSG_WAITFORONE = 0x10000;
const POLLIN = 1;
const EFD_CLOEXEC = 0x80000;
const EFD_NONBLOCK = 0x800;
const SHUT_RDWR = 2;

const ERRNO_TEXT: Record<number, string> = {
  1: "EPERM",
  11: "EAGAIN (socket buffer full)",
  13: "EACCES",
  22: "EINVAL",
  90: "EMSGSIZE",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

const MSGHDR = 64; // struct mmsghdr: msghdr (56) + msg_len (4) + padding
const NAME_BYTES = 28; // sockaddr_in6; sockaddr_in fits

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: {
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  recvmmsgNow: {
    name: "recvmmsg",
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
  },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | undefined;

/** Whether this platform can have the backend (Linux, 64-bit, `Deno.dlopen` present). */
export function ffiUdpSupported(): boolean {
  return Deno.build.os === "linux" &&
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64") &&
    typeof Deno.dlopen === "function";
}

function openLibc(): Libc {
  if (libc) return libc;
  if (!ffiUdpSupported()) {
    throw new Error(
      `UDP backend "ffi" needs Linux on x86_64 or aarch64 (this is ${Deno.build.target})`,
    );
  }
  let lastError: unknown;
  for (const name of ["libc.so.6", `libc.musl-${Deno.build.arch}.so.1`]) {
    try {
      libc = Deno.dlopen(name, SYMBOLS).symbols;
      return libc;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        throw new Deno.errors.NotCapable(`UDP backend "ffi" needs --allow-ffi (${e.message})`);
      }
      lastError = e;
    }
  }
  throw new Error(`UDP backend "ffi": cannot load libc: ${lastError}`);
}

function errnoText(lib: Libc): string {
  const p = lib.__errno_location();
  const n = p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
  return ERRNO_TEXT[n] ?? `errno ${n}`;
}

function address(buf: ArrayBufferView): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** `count` mmsghdr entries over slots of `slotBytes`, each with one iovec and a name. */
class MessageBatch {
  readonly data: Uint8Array;
  readonly names: Uint8Array;
  readonly headers: Uint8Array;
  readonly #h: DataView;
  readonly #iov: Uint32Array;
  readonly #iovPointers: BigUint64Array;

  constructor(count: number, readonly slotBytes: number) {
    this.data = new Uint8Array(count * slotBytes);
    this.names = new Uint8Array(count * NAME_BYTES);
    this.#iovPointers = new BigUint64Array(count * 2);
    this.#iov = new Uint32Array(this.#iovPointers.buffer);
    this.headers = new Uint8Array(count * MSGHDR);
    this.#h = new DataView(this.headers.buffer);
    const data = address(this.data), names = address(this.names), iov = address(this.#iovPointers);
    for (let i = 0; i < count; i++) {
      this.#iovPointers[2 * i] = data + BigInt(i * slotBytes);
      this.#iov[4 * i + 2] = slotBytes;
      const o = i * MSGHDR;
      this.#h.setBigUint64(o, names + BigInt(i * NAME_BYTES), true); // msg_name
      this.#h.setUint32(o + 8, NAME_BYTES, true); // msg_namelen
      this.#h.setBigUint64(o + 16, iov + BigInt(i * 16), true); // msg_iov
      this.#h.setBigUint64(o + 24, 1n, true); // msg_iovlen
    }
  }

  /** Before a receive: every name slot may take a full sockaddr_in6 again. */
  resetNames(count: number): void {
    for (let i = 0; i < count; i++) this.#h.setUint32(i * MSGHDR + 8, NAME_BYTES, true);
  }
  setName(i: number, name: Uint8Array): void {
    this.names.set(name, i * NAME_BYTES);
    this.#h.setUint32(i * MSGHDR + 8, name.length, true);
  }
  setLength(i: number, n: number): void {
    this.#iov[4 * i + 2] = n;
  }
  /** Entry i's sockaddr (a view). */
  name(i: number): Uint8Array {
    return this.names.subarray(i * NAME_BYTES, (i + 1) * NAME_BYTES);
  }
  /** Bytes the kernel reported for entry i (msg_len). */
  length(i: number): number {
    return this.#h.getUint32(i * MSGHDR + 56, true);
  }
  /** The flags the kernel reported for entry i (msg_flags). */
  flags(i: number): number {
    return this.#h.getInt32(i * MSGHDR + 48, true);
  }
}

/** Options of the ffi backend, beyond {@link ListenUdpOptions}. */
export interface FfiUdpOptions extends ListenUdpOptions {
  /** Kernel receive buffer asked for (bytes). Default 4 MiB. */
  receiveBufferBytes?: number;
  /** Kernel send buffer asked for (bytes). Default 4 MiB. */
  sendBufferBytes?: number;
}

/** The ffi backend's socket (see the module doc); {@link listenUdpFfi} makes one. */
export class FfiUdpSocket implements UdpSocket {
  readonly backend = "ffi" as const;
  readonly stats: UdpStats = newStats();
  readonly localAddr: { hostname: string; port: number };
  /** Kernel buffer sizes in effect (what getsockopt reports: twice what was granted). */
  readonly bufferBytes: { receive: number; send: number };
  readonly #lib: Libc;
  readonly #fd: number;
  readonly #v6: boolean;
  readonly #rx = new MessageBatch(FFI_BATCH, FFI_SLOT_BYTES);
  readonly #tx = new MessageBatch(FFI_BATCH, FFI_SLOT_BYTES);
  #rxCount = 0;
  #rxNext = 0;
  #inFlight: Promise<number> | null = null;
  #receiving = false;
  #txCount = 0;
  #flushQueued = false;
  /**
   * Whether queued sends go out by themselves at the end of the synchronous run (a microtask).
   * The Worker's synchronous loop turns it off and calls {@link FfiUdpSocket.flush} itself: a
   * loop that never yields would pile up microtasks that never run.
   */
  autoFlush = true;
  readonly #flush = () => this.flush();
  #closed = false;
  #fdClosed = false;
  // Decoding senders: the last one again costs nothing.
  readonly #lastName = new Uint8Array(NAME_BYTES);
  #lastRemote: UdpRemote | null = null;
  // Encoding destinations.
  readonly #names = new BoundedCache<string, Uint8Array | null>(256);
  #lastTo: UdpRemote | null = null;
  #lastToName: Uint8Array | null = null;

  /** @internal Made by {@link listenUdpFfi}. */
  constructor(lib: Libc, fd: number, v6: boolean, localAddr: { hostname: string; port: number }) {
    this.#lib = lib;
    this.#fd = fd;
    this.#v6 = v6;
    this.localAddr = localAddr;
    this.bufferBytes = { receive: getInt(lib, fd, SO_RCVBUF), send: getInt(lib, fd, SO_SNDBUF) };
  }

  async receive(buf: Uint8Array): Promise<UdpReceived | null> {
    if (this.#closed) return null;
    if (this.#receiving) throw new Error("UdpSocket.receive: a receive is already pending");
    if (this.#rxNext >= this.#rxCount) {
      this.#receiving = true;
      try {
        while (this.#rxNext >= this.#rxCount) {
          if (this.#closed) return null;
          await this.#fill();
        }
      } finally {
        this.#receiving = false;
      }
      if (this.#closed) return null;
    }
    const i = this.#rxNext++;
    let length = this.#rx.length(i);
    if ((this.#rx.flags(i) & MSG_TRUNC) !== 0 || length > buf.length) this.stats.truncated++;
    if (length > buf.length) length = buf.length;
    const start = i * FFI_SLOT_BYTES;
    buf.set(this.#rx.data.subarray(start, start + length));
    this.stats.received++;
    return { length, remote: this.#remote(i) };
  }

  // --- the UDP Worker's synchronous loop (src/udp_worker/ffi_loop.ts) -------------------------

  /** Takes what is already waiting (at most {@link FFI_BATCH}) without blocking; how many. */
  receiveNow(): number {
    if (this.#closed || this.#rxNext < this.#rxCount) return 0;
    this.#rx.resetNames(FFI_BATCH);
    const n = this.#lib.recvmmsgNow(this.#fd, this.#rx.headers, FFI_BATCH, MSG_DONTWAIT, null);
    this.#rxCount = 0;
    this.#rxNext = 0;
    if (n <= 0) return 0;
    for (let i = 0; i < n; i++) {
      if ((this.#rx.flags(i) & MSG_TRUNC) !== 0) this.stats.truncated++;
    }
    this.stats.received += n;
    return n;
  }

  /** Payload of datagram i of the last {@link receiveNow} (a view, valid until the next one). */
  receivedData(i: number): Uint8Array {
    const start = i * FFI_SLOT_BYTES;
    return this.#rx.data.subarray(start, start + Math.min(this.#rx.length(i), FFI_SLOT_BYTES));
  }

  /**
   * Sender of datagram i as the Worker's rings store it: the port, and the address in `words`
   * (16 bytes; an IPv4 or IPv4-mapped address in the first 4). Returns the family.
   */
  receivedSender(i: number, words: Int32Array): { port: number; family: 4 | 6 } {
    const { address, port } = senderOf(this.#rx.name(i));
    const bytes = new Uint8Array(words.buffer, words.byteOffset, 16);
    bytes.fill(0);
    bytes.set(address);
    return { port, family: address.length === 4 ? 4 : 6 };
  }

  /** Blocks this thread until the socket or `wakeFd` is readable, or `timeoutMs` passed. */
  waitReadable(wakeFd: number, timeoutMs: number): void {
    const fds = this.#pollFds;
    const v = new DataView(fds.buffer);
    v.setInt32(0, this.#fd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt16(6, 0, true);
    v.setInt32(8, wakeFd, true);
    v.setInt16(12, POLLIN, true);
    v.setInt16(14, 0, true);
    this.#lib.poll(fds, 2n, timeoutMs);
  }
  readonly #pollFds = new Uint8Array(16); // two struct pollfd

  /** One recvmmsg: waits for the first datagram (at most the receive timeout), takes the rest. */
  async #fill(): Promise<void> {
    this.#rx.resetNames(FFI_BATCH);
    this.#inFlight = this.#lib.recvmmsg(
      this.#fd,
      this.#rx.headers,
      FFI_BATCH,
      MSG_WAITFORONE,
      null,
    );
    const n = await this.#inFlight;
    this.#inFlight = null;
    if (this.#closed) return this.#closeFd();
    // -1: the timeout (EAGAIN) or an interrupted wait; errno lives on the call's own thread.
    this.#rxCount = n > 0 ? n : 0;
    this.#rxNext = 0;
  }

  #remote(i: number): UdpRemote {
    const name = this.#rx.name(i);
    const last = this.#lastName;
    let same = this.#lastRemote !== null;
    for (let k = 0; same && k < 24; k++) same = name[k] === last[k];
    if (same) return this.#lastRemote!;
    last.set(name);
    const { address, port } = senderOf(name);
    this.#lastRemote = { address: formatIp(address), port };
    return this.#lastRemote;
  }

  #name(to: UdpRemote): Uint8Array | null {
    if (
      this.#lastTo !== null && to.address === this.#lastTo.address && to.port === this.#lastTo.port
    ) {
      return this.#lastToName;
    }
    const key = `${to.address}|${to.port}`;
    let name = this.#names.get(key);
    if (name === undefined) {
      name = sockaddr(to.address, to.port, this.#v6);
      this.#names.set(key, name);
    }
    this.#lastTo = { address: to.address, port: to.port };
    this.#lastToName = name;
    return name;
  }

  #sendError(text: string): void {
    this.stats.sendErrors++;
    this.stats.lastSendError = text;
  }

  send(data: Uint8Array, to: UdpRemote): void {
    this.stats.sent++;
    if (this.#closed) return this.#sendError("BadResource: socket closed");
    if (badPort(to.port)) return this.#sendError(`RangeError: invalid port ${to.port}`);
    const name = this.#name(to);
    if (name === null) {
      return this.#sendError(`EAFNOSUPPORT: cannot send to "${to.address}" from this socket`);
    }
    if (data.length > FFI_SLOT_BYTES) {
      return this.#sendError(`EMSGSIZE: datagram of ${data.length} bytes`);
    }
    const i = this.#txCount++;
    this.#tx.data.set(data, i * FFI_SLOT_BYTES);
    this.#tx.setLength(i, data.length);
    this.#tx.setName(i, name);
    if (this.#txCount === FFI_BATCH) this.flush();
    else if (this.autoFlush && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Sends what `send` queued (it runs by itself at the end of a synchronous run of sends). */
  flush(): void {
    this.#flushQueued = false;
    const count = this.#txCount;
    this.#txCount = 0;
    let at = 0;
    while (at < count && !this.#fdClosed) {
      const m = this.#lib.sendmmsg(
        this.#fd,
        this.#tx.headers.subarray(at * MSGHDR),
        count - at,
        MSG_DONTWAIT,
      );
      if (m > 0) {
        at += m;
        continue;
      }
      const text = errnoText(this.#lib);
      if (text.startsWith("EAGAIN")) {
        // The send buffer is full: what is left is lost, as a full queue loses it anywhere.
        for (; at < count; at++) this.#sendError(text);
      } else {
        this.#sendError(text); // this datagram's destination refused it; the rest may go
        at++;
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    if (this.#txCount > 0) this.flush();
    this.#closed = true;
    if (this.#inFlight === null) return this.#closeFd();
    // A recvmmsg waits on another thread: wake it; the descriptor is closed when it returns, so
    // the number is never reused under a call still using it.
    this.#lib.shutdown(this.#fd, SHUT_RDWR);
  }

  #closeFd(): void {
    if (this.#fdClosed) return;
    this.#fdClosed = true;
    this.#lib.close(this.#fd);
  }
}

/** A non-blocking eventfd, to wake a thread waiting in {@link FfiUdpSocket.waitReadable}. */
export function createEventFd(): number {
  const lib = openLibc();
  const fd = lib.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw new Error(`eventfd(): ${errnoText(lib)}`);
  return fd;
}

const ONE = new BigUint64Array([1n]);
const EIGHT = new Uint8Array(8);

/** Makes `fd` (an eventfd) readable. */
export function signalEventFd(fd: number): void {
  openLibc().write(fd, new Uint8Array(ONE.buffer), 8n);
}

/** Resets `fd` (an eventfd) to not readable. */
export function drainEventFd(fd: number): void {
  openLibc().read(fd, EIGHT, 8n);
}

/** Closes a descriptor made here. */
export function closeFd(fd: number): void {
  openLibc().close(fd);
}

/** A received sockaddr's port and address (a view: 4 bytes for IPv4 and IPv4-mapped, else 16). */
function senderOf(name: Uint8Array): { address: Uint8Array; port: number } {
  const port = (name[2]! << 8) | name[3]!;
  if ((name[0]! | (name[1]! << 8)) !== AF_INET6) return { address: name.subarray(4, 8), port };
  const a = name.subarray(8, 24);
  return { address: isV4Mapped(a) ? a.subarray(12) : a, port };
}

function getInt(lib: Libc, fd: number, opt: number): number {
  const v = new Int32Array(1);
  const len = new Uint32Array([4]);
  return lib.getsockopt(fd, SOL_SOCKET, opt, v, len) === 0 ? v[0]! : -1;
}

function setInt(lib: Libc, fd: number, level: number, opt: number, value: number): boolean {
  return lib.setsockopt(fd, level, opt, new Int32Array([value]), 4) === 0;
}

/** A sockaddr for `address:port` on a socket of this family; null when it cannot reach it. */
function sockaddr(text: string, port: number, v6Socket: boolean): Uint8Array | null {
  const ip = tryParseIp(text);
  if (ip === undefined) return null;
  if (!v6Socket) {
    if (ip.length !== 4) return null;
    const s = new Uint8Array(16);
    s[0] = AF_INET;
    s[2] = port >> 8;
    s[3] = port & 0xff;
    s.set(ip, 4);
    return s;
  }
  const s = new Uint8Array(NAME_BYTES);
  s[0] = AF_INET6;
  s[2] = port >> 8;
  s[3] = port & 0xff;
  if (ip.length === 4) {
    s[18] = 0xff;
    s[19] = 0xff;
    s.set(ip, 20);
  } else s.set(ip, 8);
  return s;
}

/**
 * Binds a UDP socket on libc (see the module doc). Throws `Deno.errors.AddrInUse` for a port in
 * use, `Deno.errors.NotCapable` without `--allow-ffi`, an Error otherwise.
 */
export function listenUdpFfi(opts: FfiUdpOptions = {}): FfiUdpSocket {
  const lib = openLibc();
  const dualStack = opts.dualStack ?? false;
  const host = (opts.hostname ?? (dualStack ? "::" : "0.0.0.0")).replace(/^\[(.*)\]$/, "$1");
  const ip = tryParseIp(host);
  if (ip === undefined) throw new TypeError(`UDP backend "ffi": invalid address "${host}"`);
  const port = opts.port ?? 0;
  const v6 = ip.length === 16;
  const fd = lib.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`UDP backend "ffi": socket(): ${errnoText(lib)}`);
  try {
    if (v6) setInt(lib, fd, IPPROTO_IPV6, IPV6_V6ONLY, dualStack ? 0 : 1);
    const rcv = opts.receiveBufferBytes ?? FFI_DEFAULT_BUFFER_BYTES;
    const snd = opts.sendBufferBytes ?? FFI_DEFAULT_BUFFER_BYTES;
    if (!setInt(lib, fd, SOL_SOCKET, SO_RCVBUFFORCE, rcv)) {
      setInt(lib, fd, SOL_SOCKET, SO_RCVBUF, rcv);
    }
    if (!setInt(lib, fd, SOL_SOCKET, SO_SNDBUFFORCE, snd)) {
      setInt(lib, fd, SOL_SOCKET, SO_SNDBUF, snd);
    }
    const timeout = new BigInt64Array([0n, BigInt(RECEIVE_TIMEOUT_US)]); // struct timeval
    lib.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(timeout.buffer), 16);
    const name = sockaddr(host, port, v6)!;
    if (lib.bind(fd, name, name.length) !== 0) {
      const text = errnoText(lib);
      const where = `${v6 ? `[${host}]` : host}:${port}`;
      if (text === "EADDRINUSE") throw new Deno.errors.AddrInUse(`Address in use: ${where}`);
      throw new Error(`UDP backend "ffi": bind ${where}: ${text}`);
    }
    const got = new Uint8Array(NAME_BYTES);
    lib.getsockname(fd, got, new Uint32Array([NAME_BYTES]));
    const bound = (got[2]! << 8) | got[3]!;
    return new FfiUdpSocket(lib, fd, v6, { hostname: host, port: bound });
  } catch (e) {
    lib.close(fd);
    throw e;
  }
}
