/**
 * The UDP forwarder. Sessions are keyed by the peer's source address:port with
 * endpoint-independent mapping (RFC 4787 REQ-1): one host socket per peer source (per address
 * family), reused for every destination, so WebRTC, games and QUIC see one stable mapping.
 * Filtering is address-and-port dependent: a reply is let back only from a destination the
 * session has sent to. The seed's socket-per-destination behaviour is `mapping: "per-destination"`.
 *
 * Each reply reaches the peer from the address:port it really came from. Sessions end after
 * the idle timeout; DNS-only sessions end once every query was answered.
 *
 * @module
 */
import type { Netstack, UdpDatagram } from "../netstack/mod.ts";
import { listenUdp, type UdpRemote, type UdpSocket } from "../udp_socket.ts";
import { formatHostPort, parseIp } from "../wire/ip_address.ts";
import { TokenBucket } from "../wireguard/ratelimiter.ts";
import type { ProxyContext } from "./context.ts";
import { FlowPacer } from "./limits.ts";

/** Largest datagram a session receives (the seed's 64 KiB buffer). */
export const UDP_BUFFER_SIZE = 65535;

/** Destinations one session remembers (for filtering replies and caching verdicts). */
export const MAX_DESTINATIONS_PER_SESSION = 4096;
/**
 * Send buffers a session's host socket keeps for reuse (2 KiB each; more sends at once take a
 * fresh copy each): idle sessions then hold 8 KiB at most, 80 MB for 10,000 of them.
 */
export const SESSION_SEND_BUFFERS = 4;

/** Session mapping mode. */
export type UdpMapping = "endpoint-independent" | "per-destination";

/** UDP forwarder options. */
export interface UdpProxyOptions {
  /** Mapping mode. Default endpoint-independent. */
  mapping?: UdpMapping;
  /** Most sessions at once; at the bound new sessions are refused (ICMP) and counted. */
  maxSessions?: number;
  /** Host socket backend. */
  backend?: "auto" | "deno" | "node";
  /** ICMP errors per second the proxy sends in total (burst = rate). Default 100. */
  icmpRate?: number;
}

interface Session {
  key: string;
  peer: string;
  src: { address: string; port: number };
  sockets: Map<4 | 6, Promise<UdpSocket>>;
  /** Destinations sent to ("addr|port") with their policy verdict. */
  allowed: Map<string, boolean>;
  lastActive: number;
  started: number;
  up: number;
  down: number;
  dnsOnly: boolean;
  /** Per-session bandwidth caps (up, down), when configured. */
  pacers: [FlowPacer, FlowPacer] | null;
  dnsPending: number;
  closed: boolean;
  done: () => void;
}

/** Forwards UDP datagrams from the netstack to real targets and back. */
export class UdpProxy {
  #ctx: ProxyContext;
  #stack: Netstack;
  #sessions = new Map<string, Session>();
  #mapping: UdpMapping;
  #maxSessions: number;
  #backend: "auto" | "deno" | "node";
  #icmp: TokenBucket;
  #sweeper: ReturnType<typeof setInterval>;

  /** Creates the forwarder for `stack`. */
  constructor(ctx: ProxyContext, stack: Netstack, options: UdpProxyOptions = {}) {
    this.#ctx = ctx;
    this.#stack = stack;
    this.#mapping = options.mapping ?? "endpoint-independent";
    this.#maxSessions = options.maxSessions ?? 1024;
    this.#backend = options.backend ?? "auto";
    const rate = options.icmpRate ?? 100;
    this.#icmp = new TokenBucket({ rate, burst: rate, now: () => ctx.now() });
    this.#sweeper = setInterval(() => this.sweep(), 1000);
    Deno.unrefTimer(this.#sweeper as unknown as number);
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Handles one datagram from a peer. Never throws. */
  handle(d: UdpDatagram): void {
    const ctx = this.#ctx;
    const peer = ctx.peerOf(d.src.address);
    const dstKey = `${d.dst.address}|${d.dst.port}`;
    const key = this.#mapping === "endpoint-independent"
      ? `${d.src.address}|${d.src.port}`
      : `${d.src.address}|${d.src.port}|${dstKey}`;
    let s = this.#sessions.get(key);
    if (!s) {
      if (this.#sessions.size >= this.#maxSessions) {
        ctx.stats.refused("udp", peer, "limit-sessions", formatHostPort(d.dst.address, d.dst.port));
        this.#unreachable(d, "host-unreachable");
        return;
      }
      const limit = ctx.admission.admit(peer);
      if (limit) {
        ctx.stats.refused("udp", peer, limit, formatHostPort(d.dst.address, d.dst.port));
        this.#unreachable(d, "admin-prohibited");
        return;
      }
      s = this.#open(key, peer, d.src);
    }
    let ok = s.allowed.get(dstKey);
    if (ok === undefined) {
      const v = ctx.policy.check("udp", parseIp(d.dst.address), d.dst.port, peer);
      ok = v.allowed;
      // Bounded: the oldest destination is forgotten first (its replies are then filtered).
      if (s.allowed.size >= MAX_DESTINATIONS_PER_SESSION) {
        s.allowed.delete(s.allowed.keys().next().value!);
      }
      s.allowed.set(dstKey, ok);
      if (!v.allowed) {
        ctx.stats.refused("udp", peer, v.reason, formatHostPort(d.dst.address, d.dst.port));
      }
    }
    if (!ok) {
      ctx.stats.dropped("udp", peer, "denied");
      this.#unreachable(d, "admin-prohibited");
      if (s.allowed.size === 1 && s.up === 0) this.#close(s, "denied");
      return;
    }
    if (s.pacers && !s.pacers[0].tryTake(d.data.length)) {
      ctx.stats.dropped("udp", peer, "rate-capped");
      return;
    }
    s.lastActive = ctx.now();
    if (d.dst.port !== 53) s.dnsOnly = false;
    else s.dnsPending++;
    const family: 4 | 6 = d.family;
    const to: UdpRemote = { address: d.dst.address, port: d.dst.port };
    this.#socket(s, family).then((sock) => {
      if (s!.closed) return;
      sock.send(d.data, to);
      s!.up += d.data.length;
      ctx.stats.bytes("udp", peer, d.data.length, 0);
    }, (err) => {
      ctx.stats.dropped("udp", peer, "bind-failed");
      if (/too many open files|EMFILE|ENFILE/i.test(String(err))) {
        ctx.admission.learnDescriptorLimit(ctx.log);
      }
      ctx.log.warn("udp session socket failed", { error: String(err) });
      this.#close(s!, "no-resources");
    });
  }

  #open(key: string, peer: string, src: { address: string; port: number }): Session {
    const ctx = this.#ctx;
    const s: Session = {
      key,
      peer,
      src: { ...src },
      sockets: new Map(),
      allowed: new Map(),
      lastActive: ctx.now(),
      started: ctx.now(),
      up: 0,
      down: 0,
      dnsOnly: true,
      pacers: null,
      dnsPending: 0,
      closed: false,
      done: () => {},
    };
    const cap = ctx.admission.limits.flowBytesPerSecond;
    if (cap > 0) {
      const mk = () => new FlowPacer(cap, UDP_BUFFER_SIZE, () => ctx.now());
      s.pacers = [mk(), mk()];
    }
    this.#sessions.set(key, s);
    ctx.stats.opened("udp", peer);
    s.done = ctx.track(peer, () => this.#close(s, "shutdown")).done;
    return s;
  }

  #socket(s: Session, family: 4 | 6): Promise<UdpSocket> {
    let p = s.sockets.get(family);
    if (!p) {
      p = listenUdp({
        hostname: family === 4 ? "0.0.0.0" : "::",
        port: 0,
        backend: this.#backend,
        sendBuffers: SESSION_SEND_BUFFERS,
      });
      s.sockets.set(family, p);
      p.then((sock) => this.#receiveLoop(s, sock), () => {});
    }
    return p;
  }

  async #receiveLoop(s: Session, sock: UdpSocket): Promise<void> {
    const buf = new Uint8Array(UDP_BUFFER_SIZE);
    while (!s.closed) {
      const r = await sock.receive(buf).catch(() => null);
      if (!r) break;
      if (s.allowed.get(`${r.remote.address}|${r.remote.port}`) !== true) {
        this.#ctx.stats.dropped("udp", s.peer, "unsolicited");
        continue;
      }
      if (s.pacers && !s.pacers[1].tryTake(r.length)) {
        this.#ctx.stats.dropped("udp", s.peer, "rate-capped");
        continue;
      }
      s.lastActive = this.#ctx.now();
      const ok = this.#stack.sendUdp(r.remote, s.src, buf.subarray(0, r.length));
      if (!ok) this.#ctx.stats.dropped("udp", s.peer, "tunnel-send-failed");
      s.down += r.length;
      this.#ctx.stats.bytes("udp", s.peer, 0, r.length);
      if (r.remote.port === 53 && s.dnsOnly && --s.dnsPending <= 0) {
        this.#close(s, "eof");
        break;
      }
    }
  }

  #unreachable(d: UdpDatagram, kind: "admin-prohibited" | "host-unreachable"): void {
    if (this.#icmp.take()) this.#stack.sendIcmpUnreachable(d, kind);
    else this.#ctx.stats.dropped("udp", this.#ctx.peerOf(d.src.address), "icmp-rate-limited");
  }

  #close(s: Session, reason: "eof" | "idle" | "denied" | "shutdown" | "no-resources"): void {
    if (s.closed) return;
    s.closed = true;
    this.#sessions.delete(s.key);
    for (const p of s.sockets.values()) p.then((sock) => sock.close(), () => {});
    this.#ctx.admission.release(s.peer);
    s.done();
    this.#ctx.stats.closed({
      peer: s.peer,
      proto: "udp",
      src: formatHostPort(s.src.address, s.src.port),
      dst: [...s.allowed.keys()].slice(0, 4).map((k) => {
        const [a, p] = k.split("|");
        return formatHostPort(a!, Number(p));
      }).join(",") + (s.allowed.size > 4 ? ",…" : ""),
      bytesUp: s.up,
      bytesDown: s.down,
      durationMs: Math.round(this.#ctx.now() - s.started),
      reason,
    });
  }

  /** Closes sessions idle longer than the UDP idle timeout (called every second). */
  sweep(): void {
    const now = this.#ctx.now();
    const limit = this.#ctx.timeouts.udpIdleTimeoutMs;
    for (const s of [...this.#sessions.values()]) {
      if (now - s.lastActive >= limit) this.#close(s, "idle");
    }
  }

  /** Closes every session that belongs to `peer`. */
  closePeer(peer: string): void {
    for (const s of [...this.#sessions.values()]) if (s.peer === peer) this.#close(s, "shutdown");
  }

  /** Closes all sessions and stops the sweeper. */
  close(): void {
    clearInterval(this.#sweeper);
    for (const s of [...this.#sessions.values()]) this.#close(s, "shutdown");
  }
}
