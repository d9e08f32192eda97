/**
 * The netstack: lwIP in WebAssembly, driven from TypeScript.
 *
 * Inbound flow of a packet:
 *  1. `input(packet)` copies it into the module's one I/O region and calls `input(len)`.
 *  2. lwIP handles it; output packets, data and events come back through imports while the
 *     call runs. Imports never call into lwIP: work that needs the module (and every user
 *     callback except `onOutput`) is queued and run right after the call returns.
 *  3. The call returns lwIP's next timeout; one `setTimeout` is kept armed for it.
 * @module
 */
import {
  type Cidr,
  type Family,
  type FlowAddr,
  formatIp,
  type IpBytes,
  parseCidr,
  parseIp,
} from "./addr.ts";
import {
  ConnectError,
  FlowCancelledError,
  lwipErrorName,
  NetstackFatalError,
  StackClosedError,
} from "./errors.ts";
import { flowKey, type HeldSyn, HeldSynTable, isTcpRst, parseSyn } from "./flow.ts";
import { MssClamp, type MssClampRule } from "./mss_clamp.ts";
import { quoteUdp, unreachableCode, type UnreachableKind } from "./icmp.ts";
import { type NetstackStats, TS_STAT_NAMES, WASM_STAT_NAMES } from "./stats.ts";
import { isNestedIpv6Fragment } from "./ip6_guard.ts";
import { TcpConn, type TcpDriver, TcpListener, WRITE_RETRY } from "./tcp.ts";
import { type UdpDatagram, type UdpDriver, UdpSocket } from "./udp.ts";
import { instantiateNetstack, type NetstackExports, type NetstackImports } from "./_wasm.ts";
import { TaskYielder } from "../udp_worker/ring.ts";
import { flowTimers, type QueuedTimer } from "../timer_queue.ts";
import { BoundedCache } from "../bounded_cache.ts";
import { LazyDeleteMap } from "../lazy_delete_map.ts";

/** Addresses kept parsed for the per-datagram paths (the cache is emptied when full). */
const PARSE_CACHE_LIMIT = 256;

/** Compile-time ceilings of netstack.wasm (see wasm/lwipopts.h). */
export const NETSTACK_LIMITS = {
  /** Largest per-flow receive window (TCP_WND at window scale 6). */
  maxTcpWindow: 0xffff << 6,
  /** Largest per-flow send buffer (TCP_SND_BUF): the ceiling of tcpSendQuotaMax. */
  maxTcpSendBuffer: 8 * 1024 * 1024,
  /** TCP pcbs (connections incl. TIME_WAIT and half-open). */
  tcpPcbs: 4096,
  /** UDP sockets on the stack's own addresses. */
  udpSockets: 511,
  /** Largest IP packet accepted by input(). */
  maxPacket: 65535,
} as const;

/** Options of Netstack.create. */
export interface NetstackOptions {
  /** The stack's own addresses with their tunnel prefix, e.g. ["10.88.0.1/24", "fd88::1/64"]. */
  addresses: string[];
  /** Interface MTU (default 1420). IPv6 addresses need at least 1280. */
  mtu?: number;
  /**
   * Per-flow receive window in bytes (default 3 MiB: what ~800 Mbit/s keeps in flight over a
   * 15 ms round trip, plus the round trip's worth that waits behind a hole until its repair; at
   * most NETSTACK_LIMITS.maxTcpWindow). With 2 MiB the bench's impaired upload (10 ms, 0.5% loss)
   * found the sender window-bound ~40% of the time (its kernel's `rwnd_limited`).
   */
  tcpWindow?: number;
  /** Per-flow bytes queued toward the peer (default 1 MiB: a loss repaired a round trip later keeps the rest of the window in flight). */
  tcpSendQuota?: number;
  /**
   * How far a flow's send quota may grow on a long fast path (default 8 MiB =
   * NETSTACK_LIMITS.maxTcpSendBuffer): twice the sender's path-model window, i.e. three times its
   * bandwidth-delay product. Data behind a lost segment stays queued until the repair is
   * acknowledged, so a fixed 1 MiB caps a 20 ms path at ~350 Mbit/s and a 100 ms path at ~80.
   * All flows together stay bounded by the stack's shared heap. Set it to tcpSendQuota for a
   * fixed quota.
   */
  tcpSendQuotaMax?: number;
  /**
   * Acknowledge in-order data once per batch of inbound packets rather than every second
   * segment (default true): the batch ends when the event loop next runs a task, so an ACK
   * waits well under a millisecond, and at most 16 segments go unacknowledged. Each ACK costs
   * an encryption and a datagram; this is the userspace stand-in for GRO.
   */
  ackCoalescing?: boolean;
  /**
   * TCP timestamps (RFC 7323) on connections whose SYN offers them (default true). A Linux
   * client's `tcp_tw_reuse = 1` needs them to reuse a port whose last connection to the same target
   * is still in TIME_WAIT: without them a client that opens more connections to one target within
   * its 60 s TIME_WAIT than half its local port range (connect takes even ports first: ~14,000
   * with Linux's default range) slows to a crawl, its kernel searching the range for every
   * connect. They cost 12 bytes a segment.
   */
  tcpTimestamps?: boolean;
  /** Held SYNs in total (default 1024). */
  maxHeldSyns?: number;
  /** Held SYNs per source address (default 256). */
  maxHeldSynsPerSource?: number;
  /** ms a SYN waits for accept()/refuse() before it is refused (default 30 000). */
  synHoldTimeoutMs?: number;
  /** ms accept() waits for the peer to complete the handshake (default 10 000). */
  handshakeTimeoutMs?: number;
  /** ms dialTcp() waits for the handshake (default 10 000). */
  connectTimeoutMs?: number;
  /** Tunnel-side keepalive (default 60 s idle, 30 s interval, 9 probes). */
  keepalive?: { idleMs: number; intervalMs: number; count: number };
  /**
   * Per-peer MSS clamps (lwIP has no path-MTU discovery): SYNs from and to a peer in `prefix`
   * carry at most `mss`, so neither side sends larger segments. First matching rule wins.
   */
  mssClamp?: MssClampRule[];
}

/** A SYN to a non-local address:port, held until accepted or refused. */
export interface TcpFlowRequest {
  /** Address family. */
  readonly family: Family;
  /** The peer. */
  readonly src: FlowAddr;
  /** The original destination. */
  readonly dst: FlowAddr;
  /** Aborted when the peer gives up (RST), the hold times out, or the stack closes. */
  readonly signal: AbortSignal;
  /** The SYN as a plain IP packet (for an ICMP quote). */
  readonly packet: Uint8Array;
  /** Lets the SYN into the stack; resolves once the handshake completed. */
  accept(): Promise<TcpConn>;
  /** Answers the SYN with a RST from the original destination. */
  refuse(): void;
}

/**
 * A held SYN as the handler sees it. A class, not an object literal: V8 (Deno 2.9.6) gives each
 * object made by a literal with a getter a hidden class of its own, in the old generation, and
 * through it the getter's closure kept every connection's SYN, its tuple, its hold timer and what
 * the handler hung on them alive until the next full collection. In an in-process loop of 20,000
 * connections ~160 KB reached the old generation per young-generation collection with the literal
 * and ~3 KB with the class, whose collections paused 0.16 instead of 0.42 ms; in the
 * connection-rate run (with the tables of lazy_delete_map.ts) 3 instead of 62 KB.
 */
class HeldSynRequest implements TcpFlowRequest {
  readonly family: Family;
  readonly src: FlowAddr;
  readonly dst: FlowAddr;
  readonly signal: AbortSignal;
  readonly accept: () => Promise<TcpConn>;
  readonly refuse: () => void;
  readonly #held: HeldSyn;

  constructor(held: HeldSyn, accept: () => Promise<TcpConn>, refuse: () => void) {
    this.#held = held;
    this.family = held.info.family;
    this.src = held.info.src;
    this.dst = held.info.dst;
    this.signal = held.controller.signal;
    this.accept = accept;
    this.refuse = refuse;
  }

  /** The SYN as last received (a new ISN replaces it while held). */
  get packet(): Uint8Array {
    return this.#held.packet;
  }
}

/** Something an ICMP unreachable can be about. */
export type UnreachableTarget = Uint8Array | UdpDatagram | TcpFlowRequest;

interface PendingAccept {
  resolve: (c: TcpConn) => void;
  reject: (e: Error) => void;
  timer: QueuedTimer;
  held: HeldSyn;
}

interface PendingDial {
  resolve: (c: TcpConn) => void;
  reject: (e: Error) => void;
  timer: QueuedTimer;
}

const ERR_CLSD = -15;
const ERR_ABRT = -13;
/** glue.c NEWT_WRITE_RETRY: the shared heap or segment pool, not the flow, stopped a write. */
const WASM_WRITE_RETRY = -100;
/** Bound on queued work run after one wasm call; the rest continues on a fresh task. */
const FLUSH_BATCH = 100_000;
/**
 * How long a long path's bulk sending counts as going on after the pace timer last ticked (it
 * ticks every ~1 ms while the pacer holds such a flow; a round trip's lull is shorter).
 */
export const LONG_PATH_HOLD_MS = 250;

/** A userspace TCP/IP stack (lwIP in WebAssembly) that accepts flows to any destination. */
export class Netstack {
  /** Each outbound IP packet. The view is valid only during the call. */
  onOutput: ((packet: Uint8Array) => void) | null = null;
  /**
   * Whether more inbound packets are about to be input at once (the link below can tell, e.g.
   * the UDP Worker's ring is not empty). While it says so, a flow's reader is woken once at the
   * end of the batch, with the batch's ACKs, not per segment: the proxy then writes the target
   * a batch at a time. Null or false: readers wake at once.
   */
  inputPending: (() => boolean) | null = null;
  /**
   * A flow on a long path (lowest RTT ≥ 4 ms) began (true) or ended (false, some
   * {@link LONG_PATH_HOLD_MS} after) sending in bulk, held back by the pacer. Its output is then
   * timed by the pacer, not by the arrival of input, and a link that batches sends behind a
   * hand-over to another thread does better sending it at once (the UDP Worker's socket, see
   * `UdpSocket.setLongPath`).
   */
  onLongPath: ((active: boolean) => void) | null = null;
  /** A SYN to a non-local address:port. Without a handler every such SYN is refused (RST). */
  onTcpFlow: ((req: TcpFlowRequest) => void) | null = null;
  /** A UDP datagram to a non-local address:port. Without a handler it is dropped and counted. */
  onUdp: ((d: UdpDatagram) => void) | null = null;
  /** Called once if the module fails an internal assertion (the stack then closes itself). */
  onFatal: ((e: Error) => void) | null = null;
  /** The interface MTU. */
  readonly mtu: number;
  /** The stack's own addresses with their prefixes. */
  readonly addresses: readonly Cidr[];

  /** Whether connections whose SYN offers TCP timestamps get them (NetstackOptions). */
  get tcpTimestamps(): boolean {
    return this.#options.tcpTimestamps;
  }

  #x: NetstackExports;
  #mem: Uint8Array;
  #io: number;
  #tuple: number;
  #options: Required<Omit<NetstackOptions, "addresses" | "mtu" | "mssClamp">>;
  #mssClamp: MssClamp;
  #inWasm = false;
  #flushing = false;
  #ackFlushQueued = false;
  readonly #parsed = new BoundedCache<string, IpBytes | null>(PARSE_CACHE_LIMIT);
  readonly #ackYielder = new TaskYielder();
  /** Readers to wake at the end of the input batch, with its ACKs (TcpDriver.deferWake). */
  #deferredWakes: TcpConn[] = [];
  #tasks: (() => void)[] = [];
  #taskHead = 0;
  #pendingInput: Uint8Array[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  /** The pace timer's ticks as last read, and the check that ends a long path's activity. */
  #paceTicks = 0;
  #longPathCheck: ReturnType<typeof setInterval> | undefined;
  /**
   * The last time lwIP read (sys_now, whole ms). lwIP reads it whenever it reckons a sleep time,
   * so a sleep from next_timeout or timers is relative to it, and #schedule needs no clock read
   * of its own (one a packet).
   */
  #nowMs = 0;
  #closed = false;
  #fatal: Error | null = null;
  #conns: (TcpConn | undefined)[] = [];
  #connCount = 0;
  #listeners = new Map<number, TcpListener>();
  #dials = new Map<number, PendingDial>();
  #accepting = new LazyDeleteMap<string, PendingAccept>();
  #socks = new Map<number, UdpSocket>();
  #held: HeldSynTable;
  #counters: Record<typeof TS_STAT_NAMES[number], number>;
  #tcpDriver: TcpDriver;
  #udpDriver: UdpDriver;

  private constructor(
    x: NetstackExports,
    mtu: number,
    addresses: Cidr[],
    options: NetstackOptions,
    mssClamp: MssClamp,
  ) {
    this.#x = x;
    this.#mssClamp = mssClamp;
    this.#mem = new Uint8Array(x.memory.buffer);
    this.#io = x.io_ptr();
    this.#tuple = x.tuple_ptr();
    this.mtu = mtu;
    this.addresses = addresses;
    this.#options = {
      tcpWindow: options.tcpWindow ?? 3 * 1024 * 1024,
      tcpSendQuota: options.tcpSendQuota ?? 1024 * 1024,
      tcpSendQuotaMax: options.tcpSendQuotaMax ?? NETSTACK_LIMITS.maxTcpSendBuffer,
      ackCoalescing: options.ackCoalescing ?? true,
      tcpTimestamps: options.tcpTimestamps ?? true,
      maxHeldSyns: options.maxHeldSyns ?? 1024,
      maxHeldSynsPerSource: options.maxHeldSynsPerSource ?? 256,
      synHoldTimeoutMs: options.synHoldTimeoutMs ?? 30_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      keepalive: options.keepalive ?? { idleMs: 60_000, intervalMs: 30_000, count: 9 },
    };
    this.#held = new HeldSynTable({
      maxHeld: this.#options.maxHeldSyns,
      maxHeldPerSource: this.#options.maxHeldSynsPerSource,
      holdTimeoutMs: this.#options.synHoldTimeoutMs,
    }, (held) => this.#refusePacket(held.packet));
    this.#counters = Object.fromEntries(TS_STAT_NAMES.map((n) => [n, 0])) as Record<
      typeof TS_STAT_NAMES[number],
      number
    >;
    this.#tcpDriver = {
      tcpWrite: (fid, data) => this.#tcpWrite(fid, data),
      tcpRecved: (fid, n) => this.#run(() => this.#x.tcp_recved(fid, n)),
      tcpShutdown: (fid) => this.#run(() => this.#x.tcp_shutdown(fid)),
      tcpClose: (fid) => this.#releaseConn(fid, () => this.#x.tcp_close(fid)),
      tcpAbort: (fid) => this.#releaseConn(fid, () => this.#x.tcp_abort(fid)),
      tcpUnacked: (fid) => Math.max(0, this.#x.tcp_unacked(fid)),
      deferWake: (conn) => {
        if (!this.inputPending?.()) return false;
        this.#counters["tcp.reads_batched"]++;
        this.#deferredWakes.push(conn);
        if (!this.#ackFlushQueued) this.#queueAckFlush();
        return true;
      },
    };
    this.#udpDriver = {
      udpSend: (sid, data, to) => this.#udpSend(sid, data, to),
      udpClose: (sid) => {
        this.#socks.delete(sid);
        this.#run(() => this.#x.udp_close(sid));
      },
    };
    flowTimers.hold(); // released by close()
  }

  /** Creates a stack with its own WebAssembly instance (fixed memory; never grows). */
  static async create(options: NetstackOptions): Promise<Netstack> {
    const mtu = options.mtu ?? 1420;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
      throw new RangeError(`mtu ${mtu} out of range 576..65535`);
    }
    const addresses: Cidr[] = [];
    for (const text of options.addresses) {
      const c = parseCidr(text);
      if (!c) throw new TypeError(`invalid address ${JSON.stringify(text)}`);
      if (c.family === 6 && mtu < 1280) {
        throw new RangeError(`IPv6 address ${text} needs an MTU of at least 1280 (is ${mtu})`);
      }
      addresses.push(c);
    }
    const mssClamp = new MssClamp(options.mssClamp ?? []);
    const ref: { stack?: Netstack } = {};
    const x = await instantiateNetstack(Netstack.#imports(() => ref.stack!));
    const stack = new Netstack(x, mtu, addresses, options, mssClamp);
    ref.stack = stack;
    stack.#init(options);
    return stack;
  }

  /** Hands an inbound IP packet (from the tunnel) to the stack. Never throws for bad input. */
  input(packet: Uint8Array): void {
    if (this.#closed) return;
    const len = packet.length;
    if (len === 0 || len > NETSTACK_LIMITS.maxPacket) {
      this.#counters["packets.in_bad_size"]++;
      return;
    }
    if (this.#inWasm) {
      this.#counters["packets.in_deferred"]++;
      this.#pendingInput.push(packet.slice());
      return;
    }
    // A peer that resets a flow we accepted, before the handshake completed: fail accept() now
    // (lwIP frees the half-open connection silently; it has no error callback yet).
    if (this.#accepting.size > 0 && isTcpRst(packet)) {
      const info = parseSyn(packet);
      if (info) this.#cancelAccept(info.key);
    }
    this.#mem.set(packet, this.#io);
    if (isNestedIpv6Fragment(this.#mem, this.#io, len)) {
      this.#counters["ip6.nested_fragment_dropped"]++;
      return;
    }
    if (!this.#mssClamp.empty && this.#mssClamp.apply(this.#mem, this.#io, len, true)) {
      this.#counters["tcp.mss_clamped"]++;
    }
    this.#inWasm = true;
    try {
      if (this.#x.input(len) !== 0 && !this.#ackFlushQueued) this.#queueAckFlush();
    } catch (e) {
      this.#inWasm = false;
      this.#die(e);
      return;
    }
    this.#inWasm = false;
    this.#maybeSchedule();
    if (!this.#flushing && (this.#taskHead < this.#tasks.length || this.#pendingInput.length > 0)) {
      this.#flush();
    }
  }

  /** Sends a UDP datagram to the peer, from any address:port (e.g. the original destination). */
  sendUdp(from: FlowAddr, to: FlowAddr, data: Uint8Array): boolean {
    if (this.#closed) return false;
    const f = this.#parseCached(from.address), t = this.#parseCached(to.address);
    if (!f || !t || f.family !== t.family) {
      throw new TypeError(`sendUdp: bad or mixed addresses ${from.address} -> ${to.address}`);
    }
    if (data.length > 65535 - 8 - (f.family === 4 ? 20 : 0)) {
      this.#counters["udp.send_failed"]++;
      return false;
    }
    return this.#call(() => {
      this.#writeTuple(f, from.port, t, to.port);
      this.#mem.set(data, this.#io);
      const r = this.#x.udp_send_from(data.length);
      if (r !== 0) {
        this.#counters["udp.send_failed"]++;
        return false;
      }
      return true;
    }, false);
  }

  /** Sends an ICMP destination unreachable about a packet, datagram or held SYN. */
  sendIcmpUnreachable(target: UnreachableTarget, kind: UnreachableKind): boolean {
    if (this.#closed) return false;
    let quote: Uint8Array;
    if (target instanceof Uint8Array) {
      quote = target;
    } else if ("data" in target) {
      quote = quoteUdp(target.family, target.src, target.dst, target.data);
    } else {
      quote = target.packet;
      const held = this.#held.get(flowKey(
        target.family,
        target.src.address,
        target.src.port,
        target.dst.address,
        target.dst.port,
      ));
      if (held && !held.decided) {
        held.decided = true;
        this.#held.remove(held);
      }
    }
    const v = quote.length > 0 ? quote[0]! >> 4 : 0;
    if (v !== 4 && v !== 6) return false;
    const { code, fromOriginal } = unreachableCode(v, kind);
    const len = Math.min(quote.length, 1280);
    return this.#call(() => {
      this.#mem.set(quote.subarray(0, len), this.#io);
      const r = this.#x.icmp_unreach(len, code, fromOriginal ? 1 : 0);
      if (r === 0) this.#counters["icmp.unreachable_sent"]++;
      return r === 0;
    }, false);
  }

  /** Opens a TCP connection from the stack's own address into the tunnel. */
  dialTcp(options: { hostname: string; port: number }): Promise<TcpConn> {
    if (this.#closed) return Promise.reject(new StackClosedError());
    const ip = parseIp(options.hostname);
    if (!ip) {
      return Promise.reject(new TypeError(`dialTcp: not an IP address: ${options.hostname}`));
    }
    return new Promise((resolve, reject) => {
      const fid = this.#call(() => {
        this.#mem.fill(0, this.#io, this.#io + 16);
        this.#mem.set(ip.bytes, this.#io);
        return this.#x.tcp_connect(ip.family, options.port);
      }, -1);
      if (fid <= 0) {
        reject(new ConnectError(`dialTcp: ${lwipErrorName(fid)}`, fid));
        return;
      }
      const timer = flowTimers.schedule(() => {
        if (this.#dials.get(fid)?.timer !== timer) return;
        this.#dials.delete(fid);
        this.#run(() => this.#x.tcp_abort(fid));
        reject(new ConnectError("dialTcp: timed out", -3));
      }, this.#options.connectTimeoutMs);
      this.#dials.set(fid, { resolve, reject, timer });
    });
  }

  /** Listens on the stack's own addresses (hostname "0.0.0.0", "::" or omitted for both). */
  listenTcp(options: { port: number; hostname?: string }): TcpListener {
    if (this.#closed) throw new StackClosedError();
    const family = Netstack.#bindFamily(options.hostname);
    const fid = this.#call(() => this.#x.tcp_listen(family, options.port), -1);
    if (fid <= 0) throw new ConnectError(`listenTcp: ${lwipErrorName(fid)}`, fid);
    const port = this.#x.tcp_local_port(fid);
    const hostname = family === 6 ? "::" : "0.0.0.0";
    const listener = new TcpListener({ transport: "tcp", hostname, port }, () => {
      this.#listeners.delete(fid);
      this.#run(() => this.#x.tcp_close(fid));
    });
    this.#listeners.set(fid, listener);
    return listener;
  }

  /** Opens a UDP socket on the stack's own addresses. */
  listenUdp(options: { port: number; hostname?: string }): UdpSocket {
    return this.#openUdp(Netstack.#bindFamily(options.hostname), options.port, null);
  }

  /** Opens a UDP socket with a default destination (an ephemeral local port). */
  dialUdp(options: { hostname: string; port: number }): UdpSocket {
    const ip = parseIp(options.hostname);
    if (!ip) throw new TypeError(`dialUdp: not an IP address: ${options.hostname}`);
    return this.#openUdp(ip.family, 0, { address: options.hostname, port: options.port });
  }

  /** A snapshot of all counters (drops by reason, flows, pool usage). */
  stats(): NetstackStats {
    const out = {} as NetstackStats;
    if (!this.#closed) {
      const ptr = this.#x.stats();
      const words = new Uint32Array(this.#x.memory.buffer, ptr, WASM_STAT_NAMES.length);
      WASM_STAT_NAMES.forEach((n, i) => out[n] = words[i]!);
    } else {
      for (const n of WASM_STAT_NAMES) out[n] = 0;
    }
    for (const n of TS_STAT_NAMES) out[n] = this.#counters[n];
    out["tcp.connections"] = this.#connCount;
    out["tcp.held"] = this.#held.size;
    const h = this.#held.counters;
    out["tcp.held_total"] = h.held;
    out["tcp.syn_retransmits_absorbed"] = h.retransmitsAbsorbed;
    out["tcp.syn_isn_replaced"] = h.isnReplaced;
    out["tcp.held_over_limit"] = h.overLimit;
    out["tcp.held_peer_cancelled"] = h.peerCancelled;
    out["tcp.held_timed_out"] = h.timedOut;
    return out;
  }

  /** Stops the stack: timers cleared, pending work rejected, connections ended. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    flowTimers.release(); // once the last flow timer is gone (below or later), its timer is cleared
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#longPathCheck !== undefined) clearInterval(this.#longPathCheck);
    this.#longPathCheck = undefined;
    this.#held.clear();
    const err = this.#fatal ?? new StackClosedError();
    for (const p of this.#accepting.values()) {
      flowTimers.cancel(p.timer);
      p.reject(err);
    }
    this.#accepting.clear();
    for (const d of this.#dials.values()) {
      flowTimers.cancel(d.timer);
      d.reject(err);
    }
    this.#dials.clear();
    for (const c of this.#conns) c?.onGone(ERR_ABRT);
    this.#conns = [];
    this.#connCount = 0;
    for (const l of this.#listeners.values()) l.close();
    this.#listeners.clear();
    for (const s of this.#socks.values()) s.onStackClosed();
    this.#socks.clear();
    this.#tasks = [];
    this.#pendingInput = [];
  }

  // ======================= internals =======================

  #init(options: NetstackOptions): void {
    const seed = new Uint8Array(32);
    crypto.getRandomValues(seed);
    this.#mem.set(seed, this.#io);
    const r = this.#x.init(this.mtu);
    if (r !== 0) throw new NetstackFatalError(`netstack init failed (${r})`);
    const o = this.#options;
    if (this.#x.config(0, o.tcpWindow) !== 0) {
      throw new RangeError(`tcpWindow ${o.tcpWindow} out of range`);
    }
    if (this.#x.config(1, o.tcpSendQuota) !== 0) {
      throw new RangeError(`tcpSendQuota ${o.tcpSendQuota} out of range`);
    }
    if (this.#x.config(7, Math.max(o.tcpSendQuotaMax, o.tcpSendQuota)) !== 0) {
      throw new RangeError(`tcpSendQuotaMax ${o.tcpSendQuotaMax} out of range`);
    }
    this.#x.config(3, o.keepalive.idleMs);
    this.#x.config(4, o.keepalive.intervalMs);
    this.#x.config(5, o.keepalive.count);
    this.#x.config(6, o.ackCoalescing ? 1 : 0);
    this.#x.config(8, o.tcpTimestamps ? 1 : 0);
    for (const a of this.addresses) {
      this.#mem.fill(0, this.#io, this.#io + 16);
      this.#mem.set(a.bytes, this.#io);
      const e = this.#x.add_address(a.family, a.prefix);
      if (e !== 0) throw new RangeError(`cannot add address ${formatIp(a.family, a.bytes)} (${e})`);
    }
    void options;
    this.#maybeSchedule();
  }

  static #bindFamily(hostname: string | undefined): number {
    if (hostname === undefined || hostname === "") return 0;
    const ip = parseIp(hostname);
    if (!ip) throw new TypeError(`not an IP address: ${hostname}`);
    return ip.family;
  }

  /** Import functions; `self` resolves the stack once it exists. */
  static #imports(self: () => Netstack): NetstackImports {
    return {
      output: (ptr, len) => self().#onOutputPacket(ptr, len),
      now: () => (self().#nowMs = Math.floor(performance.now())) >>> 0,
      now_us: () => Math.floor(performance.now() * 1000) >>> 0,
      fatal: (msg, line) => self().#onFatalAssert(msg, line),
      tcp_syn: (ptr, len) => {
        const s = self();
        const packet = s.#mem.slice(ptr, ptr + len);
        s.#tasks.push(() => s.#onSyn(packet));
      },
      tcp_rst: (ptr, len) => {
        const s = self();
        const info = parseSyn(s.#mem.subarray(ptr, ptr + len));
        if (info) s.#tasks.push(() => s.#held.cancel(info.key));
      },
      tcp_accepted: (listener, fid) => self().#onAccepted(listener, fid),
      tcp_connected: (fid, err) => self().#onConnected(fid, err),
      tcp_data: (fid, ptr, len) => {
        const s = self();
        s.#conns[fid]?.onData(s.#mem, ptr, len);
      },
      tcp_fin: (fid) => self().#conns[fid]?.onFin(),
      tcp_sent: (fid) => self().#conns[fid]?.onSent(),
      tcp_err: (fid, err) => self().#onTcpErr(fid, err),
      udp_recv: (sid, ptr, len) => self().#onUdpRecv(sid, ptr, len),
    };
  }

  #onOutputPacket(ptr: number, len: number): void {
    const cb = this.onOutput;
    if (!cb) {
      this.#counters["packets.out_no_handler"]++;
      return;
    }
    // in place: lwIP rebuilds options and checksum whenever it retransmits a SYN
    if (!this.#mssClamp.empty && this.#mssClamp.apply(this.#mem, ptr, len, false)) {
      this.#counters["tcp.mss_clamped"]++;
    }
    try {
      cb(this.#mem.subarray(ptr, ptr + len));
    } catch {
      this.#counters["callback_errors"]++;
    }
  }

  #onFatalAssert(msgPtr: number, line: number): void {
    let end = msgPtr;
    while (end < this.#mem.length && this.#mem[end] !== 0 && end - msgPtr < 512) end++;
    const msg = new TextDecoder().decode(this.#mem.subarray(msgPtr, end));
    this.#fatal = new NetstackFatalError(`lwIP assertion failed: ${msg} (line ${line})`);
  }

  #die(e: unknown): void {
    const err = this.#fatal ??
      new NetstackFatalError(`netstack trapped: ${e instanceof Error ? e.message : String(e)}`);
    this.#fatal = err;
    this.close();
    try {
      this.onFatal?.(err);
    } catch {
      // the handler's own failure changes nothing
    }
  }

  /** Runs `f` inside the module; queued work runs after. Returns `fallback` if closed. */
  #call<T>(f: () => T, fallback: T): T {
    if (this.#closed) return fallback;
    if (this.#inWasm) throw new Error("netstack: re-entrant call");
    this.#inWasm = true;
    let r: T;
    try {
      r = f();
    } catch (e) {
      this.#inWasm = false;
      if (e instanceof WebAssembly.RuntimeError) {
        this.#die(e);
        return fallback;
      }
      throw e;
    }
    this.#inWasm = false;
    this.#maybeSchedule();
    if (!this.#flushing) this.#flush();
    return r;
  }

  /** Runs `f` now, or right after the current module call if one is running. */
  #run(f: () => unknown): void {
    if (this.#closed) return;
    if (this.#inWasm) {
      this.#tasks.push(() => this.#call(f, undefined));
      return;
    }
    this.#call(f, undefined);
  }

  /**
   * Sends the coalesced ACKs, and wakes the readers that data arrived for, in the next task:
   * after the packets queued now are all input (the readers run after the ACKs leave).
   */
  #queueAckFlush(): void {
    this.#ackFlushQueued = true;
    this.#ackYielder.yield().then(() => {
      this.#ackFlushQueued = false;
      const woken = this.#deferredWakes;
      if (woken.length > 0) {
        this.#deferredWakes = [];
        for (const c of woken) c.wakeDeferred();
      }
      this.#run(() => this.#x.ack_flush());
    });
  }

  /** parseIp for the per-datagram paths; a bounded cache (the same few addresses repeat). */
  #parseCached(text: string): IpBytes | null {
    let ip = this.#parsed.get(text);
    if (ip === undefined) {
      ip = parseIp(text);
      this.#parsed.set(text, ip);
    }
    return ip;
  }

  #flush(): void {
    this.#flushing = true;
    try {
      let n = 0;
      while (n++ < FLUSH_BATCH && !this.#closed) {
        if (this.#taskHead < this.#tasks.length) {
          const task = this.#tasks[this.#taskHead++]!;
          try {
            task();
          } catch {
            this.#counters["callback_errors"]++;
          }
          continue;
        }
        this.#tasks.length = 0;
        this.#taskHead = 0;
        const packet = this.#pendingInput.shift();
        if (packet === undefined) break;
        this.input(packet);
      }
      if (n >= FLUSH_BATCH) setTimeout(() => this.#call(() => undefined, undefined), 0);
    } finally {
      this.#flushing = false;
    }
  }

  #schedule(sleep: number): void {
    if (sleep < 0 || this.#closed) return;
    const at = this.#nowMs + sleep; // lwIP's deadline: it read #nowMs to reckon `sleep`
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at + 1) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule(this.#call(() => this.#x.timers(), -1));
      if (this.#longPathCheck === undefined && !this.#closed) this.#watchLongPath();
    }, sleep);
  }

  /** Pace ticks since the last look: a long path's bulk sending began, or it goes on. */
  #paceTicked(): boolean {
    const t = this.#x.pace_ticks();
    if (t === this.#paceTicks) return false;
    this.#paceTicks = t;
    return true;
  }

  /** After lwIP's timers ran: if the pace timer ticked, tells onLongPath and watches for the end. */
  #watchLongPath(): void {
    if (!this.#paceTicked()) return;
    this.#longPathCheck = setInterval(() => {
      if (this.#paceTicked()) return;
      clearInterval(this.#longPathCheck);
      this.#longPathCheck = undefined;
      this.#tellLongPath(false);
    }, LONG_PATH_HOLD_MS);
    this.#tellLongPath(true);
  }

  #tellLongPath(active: boolean): void {
    try {
      this.onLongPath?.(active);
    } catch {
      this.#counters["callback_errors"]++;
    }
  }

  /**
   * Re-arms the timer after a call into the module: the call may have added a timeout sooner
   * than the armed one (the pace timer's is 1 ms, lwipopts.h NEWT_TCP_PACE_TICK_MS).
   */
  #maybeSchedule(): void {
    if (this.#closed) return;
    this.#schedule(this.#x.next_timeout());
  }

  #writeTuple(local: IpBytes, lport: number, remote: IpBytes, rport: number): void {
    const t = this.#tuple, m = this.#mem;
    m.fill(0, t, t + 40);
    m[t] = local.family;
    m[t + 2] = lport & 0xff;
    m[t + 3] = lport >> 8;
    m[t + 4] = rport & 0xff;
    m[t + 5] = rport >> 8;
    m.set(local.bytes, t + 8);
    m.set(remote.bytes, t + 24);
  }

  #readTuple(): { family: Family; local: FlowAddr; remote: FlowAddr } {
    const t = this.#tuple, m = this.#mem;
    const family: Family = m[t] === 6 ? 6 : 4;
    return {
      family,
      local: { address: formatIp(family, m, t + 8), port: m[t + 2]! | (m[t + 3]! << 8) },
      remote: { address: formatIp(family, m, t + 24), port: m[t + 4]! | (m[t + 5]! << 8) },
    };
  }

  // ---- TCP ----

  #onSyn(packet: Uint8Array): void {
    const info = parseSyn(packet);
    if (!info) return;
    const handler = this.onTcpFlow;
    if (!handler) {
      this.#counters["tcp.refused_no_handler"]++;
      this.#refusePacket(packet);
      return;
    }
    const { verdict, held } = this.#held.offer(info, packet);
    if (verdict === "over-limit") {
      this.#refusePacket(packet);
      return;
    }
    if (verdict !== "new" || !held) return;
    const req = new HeldSynRequest(
      held,
      () => this.#acceptHeld(held),
      () => this.#refuseHeld(held),
    );
    try {
      handler(req);
    } catch {
      this.#counters["callback_errors"]++;
      this.#refuseHeld(held);
    }
  }

  #refusePacket(packet: Uint8Array): void {
    this.#counters["tcp.refused"]++;
    this.#run(() => {
      this.#mem.set(packet, this.#io);
      this.#x.tcp_refuse_held(packet.length);
    });
  }

  #refuseHeld(held: HeldSyn): void {
    if (held.decided || held.controller.signal.aborted) return;
    held.decided = true;
    this.#held.remove(held);
    this.#refusePacket(held.packet);
  }

  #acceptHeld(held: HeldSyn): Promise<TcpConn> {
    if (this.#closed) return Promise.reject(new StackClosedError());
    if (held.controller.signal.aborted) {
      const reason = held.controller.signal.reason;
      return Promise.reject(
        new FlowCancelledError(`flow cancelled: ${reason instanceof Error ? reason.message : ""}`),
      );
    }
    if (held.decided) return Promise.reject(new FlowCancelledError("flow already decided"));
    held.decided = true;
    this.#held.remove(held);
    const key = held.info.key;
    return new Promise((resolve, reject) => {
      const timer = flowTimers.schedule(() => {
        const p = this.#accepting.get(key);
        if (p?.timer !== timer) return;
        this.#accepting.delete(key);
        this.#counters["tcp.handshake_timeouts"]++;
        const i = held.info;
        this.#run(() => {
          this.#writeTuple(
            parseIp(i.dst.address)!,
            i.dst.port,
            parseIp(i.src.address)!,
            i.src.port,
          );
          this.#x.tcp_abort_pending();
        });
        reject(new FlowCancelledError("handshake not completed in time"));
      }, this.#options.handshakeTimeoutMs);
      this.#accepting.set(key, { resolve, reject, timer, held });
      this.#run(() => {
        this.#mem.set(held.packet, this.#io);
        const r = this.#x.tcp_accept_held(held.packet.length);
        if (r !== 0 && this.#accepting.get(key)?.timer === timer) {
          flowTimers.cancel(timer);
          this.#accepting.delete(key);
          this.#counters["tcp.accept_failed"]++;
          reject(
            new FlowCancelledError(r === -2 ? "no free connection (RST sent)" : "SYN not accepted"),
          );
        }
      });
    });
  }

  #cancelAccept(key: string): void {
    const p = this.#accepting.get(key);
    if (!p) return;
    flowTimers.cancel(p.timer);
    this.#accepting.delete(key);
    this.#counters["tcp.accept_peer_reset"]++;
    p.reject(new FlowCancelledError("the peer reset the connection during the handshake"));
  }

  #addConn(fid: number): TcpConn {
    const t = this.#readTuple();
    const conn = new TcpConn(
      this.#tcpDriver,
      fid,
      { transport: "tcp", hostname: t.local.address, port: t.local.port },
      { transport: "tcp", hostname: t.remote.address, port: t.remote.port },
    );
    this.#conns[fid] = conn;
    this.#connCount++;
    return conn;
  }

  #onAccepted(listenerId: number, fid: number): void {
    const conn = this.#addConn(fid);
    if (listenerId !== 0) {
      const l = this.#listeners.get(listenerId);
      this.#tasks.push(() => l ? l.onConn(conn) : conn.reset());
      return;
    }
    const key = flowKey(
      conn.remoteAddr.hostname.includes(":") ? 6 : 4,
      conn.remoteAddr.hostname,
      conn.remoteAddr.port,
      conn.localAddr.hostname,
      conn.localAddr.port,
    );
    const p = this.#accepting.get(key);
    this.#tasks.push(() => {
      if (!p || this.#accepting.get(key) !== p) {
        conn.reset();
        return;
      }
      this.#accepting.delete(key);
      flowTimers.cancel(p.timer);
      p.resolve(conn);
    });
  }

  #onConnected(fid: number, err: number): void {
    const d = this.#dials.get(fid);
    if (err !== 0 || !d) return;
    this.#x.tcp_info(fid); // fills the tuple; a pure read, safe inside an import
    const conn = this.#addConn(fid);
    this.#dials.delete(fid);
    flowTimers.cancel(d.timer);
    this.#tasks.push(() => d.resolve(conn));
  }

  #onTcpErr(fid: number, err: number): void {
    const conn = this.#conns[fid];
    if (conn) {
      this.#conns[fid] = undefined;
      this.#connCount--;
      conn.onGone(err);
    }
    const d = this.#dials.get(fid);
    if (d) {
      this.#dials.delete(fid);
      flowTimers.cancel(d.timer);
      this.#tasks.push(() =>
        d.reject(
          new ConnectError(`dialTcp: ${err === ERR_CLSD ? "closed" : lwipErrorName(err)}`, err),
        )
      );
    }
  }

  #releaseConn(fid: number, op: () => unknown): void {
    if (this.#conns[fid]) {
      this.#conns[fid] = undefined;
      this.#connCount--;
    }
    this.#run(op);
  }

  #tcpWrite(fid: number, data: Uint8Array): number {
    if (this.#closed) throw this.#fatal ?? new StackClosedError();
    if (this.#inWasm) return this.#writeRetry(); // called from inside a callback: no sent event
    return this.#call(() => {
      const space = this.#x.tcp_space(fid);
      if (space === WASM_WRITE_RETRY) return this.#writeRetry();
      if (space < 0) throw new ConnectError(`write: ${lwipErrorName(space)}`, space);
      const n = Math.min(space, data.length);
      if (n === 0) return 0;
      this.#mem.set(n === data.length ? data : data.subarray(0, n), this.#io);
      const r = this.#x.tcp_write(fid, n);
      if (r === WASM_WRITE_RETRY) return this.#writeRetry();
      if (r < 0) throw new ConnectError(`write: ${lwipErrorName(r)}`, r);
      return r;
    }, 0);
  }

  #writeRetry(): number {
    this.#counters["tcp.write_retries"]++;
    return WRITE_RETRY;
  }

  // ---- UDP ----

  #onUdpRecv(sid: number, ptr: number, len: number): void {
    const t = this.#readTuple();
    const data = this.#mem.slice(ptr, ptr + len);
    if (sid === 0) {
      const handler = this.onUdp;
      if (!handler) {
        this.#counters["udp.no_handler"]++;
        return;
      }
      const d: UdpDatagram = { family: t.family, src: t.remote, dst: t.local, data };
      this.#tasks.push(() => handler(d));
      return;
    }
    this.#socks.get(sid)?.onDatagram(data, {
      transport: "udp",
      hostname: t.remote.address,
      port: t.remote.port,
    });
  }

  #openUdp(family: number, port: number, connectedTo: FlowAddr | null): UdpSocket {
    if (this.#closed) throw new StackClosedError();
    const sid = this.#call(() => this.#x.udp_open(family, port), -1);
    if (sid <= 0) throw new ConnectError(`udp socket: ${lwipErrorName(sid)}`, sid);
    const hostname = family === 6 ? "::" : "0.0.0.0";
    const sock = new UdpSocket(this.#udpDriver, sid, {
      transport: "udp",
      hostname,
      port: this.#x.udp_local_port(sid),
    }, connectedTo);
    this.#socks.set(sid, sock);
    return sock;
  }

  #udpSend(sid: number, data: Uint8Array, to: FlowAddr): boolean {
    const t = this.#parseCached(to.address);
    if (!t) throw new TypeError(`not an IP address: ${to.address}`);
    if (this.#inWasm || this.#closed || data.length > 65507) {
      this.#counters["udp.send_failed"]++;
      return false;
    }
    return this.#call(() => {
      this.#writeTuple(t, 0, t, to.port);
      this.#mem.set(data, this.#io);
      const r = this.#x.udp_sendto(sid, data.length);
      if (r !== 0) {
        this.#counters["udp.send_failed"]++;
        return false;
      }
      return true;
    }, false);
  }
}
