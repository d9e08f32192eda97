/**
 * The WireGuard device: one identity, many peers, one UDP socket, and a packet interface towards
 * the tunnel's IP side (the netstack). All state has this one owner, so the UDP + crypto half can
 * move to a Worker later by moving the device.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { getLogger, type Logger } from "../log.ts";
import {
  listenUdp as listenUdpOnMainThread,
  type UdpBackend,
  type UdpRemote,
  type UdpSocket,
} from "../udp_socket.ts";
import { listenUdpWorker } from "../udp_worker/mod.ts";
import { formatCidr, ipPacketDestination, parseCidr } from "../wire/ip_address.ts";
import { AllowedIps } from "./allowedips.ts";
import {
  DEFAULT_UNDER_LOAD_THRESHOLD,
  MAX_MESSAGE_SIZE,
  UNDER_LOAD_AFTER_TIME,
} from "./constants.ts";
import { CookieChecker } from "./cookie.ts";
import { IndexTable } from "./index_table.ts";
import { encodeKey, type Key } from "./keys.ts";
import { createIdentity, type LocalIdentity } from "./noise.ts";
import { Peer } from "./peer.ts";
import { RateLimiter } from "./ratelimiter.ts";
import { receiveDatagram } from "./receive.ts";
import { TransportAead, type TransportCrypto } from "./transport_aead.ts";
import type { Keypair } from "./keypair.ts";
import { BoundedCache } from "../bounded_cache.ts";

/** A peer as configured (wg-quick `[Peer]`). */
export interface PeerOptions {
  /** The peer's public key. */
  publicKey: Key;
  /** Optional preshared key (PSK mode). */
  presharedKey?: Key | undefined;
  /** CIDRs routed to this peer and accepted as inner sources from it. */
  allowedIPs?: string[] | undefined;
  /** Initial endpoint; learnt from the peer's packets when absent. */
  endpoint?: UdpRemote | undefined;
  /** Persistent keepalive interval in seconds (0 = off). */
  persistentKeepalive?: number | undefined;
}

/** Device options. */
export interface DeviceOptions {
  /** Our private key. */
  privateKey: Key;
  /** Tunnel MTU (padding never exceeds it). Default 1420. */
  mtu?: number;
  /** Clock for timers (tests use a ManualClock). */
  clock?: Clock;
  /** Logger (default: logger "wireguard"). */
  logger?: Logger;
  /** Wall-clock ms for TAI64N handshake timestamps (default `Date.now`; tests tie it to `clock`). */
  wallClock?: () => number;
  /** Handshake messages per second above which cookies are demanded. */
  underLoadThreshold?: number;
  /** Transport crypto: WebAssembly ChaCha20-Poly1305 (default) or node:crypto. */
  crypto?: TransportCrypto;
}

/** Options for {@linkcode Device.listen}. */
export interface ListenOptions {
  /** UDP port (0 = any). Default 51820. */
  port?: number;
  /** Address to bind; default "::" (dual-stack) falling back to "0.0.0.0". */
  hostname?: string;
  /** Socket backend. */
  backend?: "auto" | UdpBackend;
  /** Receive and send syscalls in a Worker (src/udp_worker/), off the main thread. Default true. */
  worker?: boolean;
  /**
   * With the Worker: sparse traffic is received and sent on sockets of the main thread's own
   * (`udp_worker_socket.ts`, direct send and quiet mode). Default true.
   */
  directSend?: boolean;
  /**
   * With direct send: a paced long path's datagrams leave from the main thread's socket
   * (`udp_worker_socket.ts`, `longPathDirect`). Default false.
   */
  longPathDirect?: boolean;
}

/** Device-wide counters. */
export interface DeviceCounters {
  /** IP packets delivered to the tunnel side. */
  packetsReceived: number;
  /** IP packets handed to peers for sending. */
  packetsSent: number;
  /** Keepalives received. */
  keepalivesReceived: number;
  /** Handshakes completed. */
  handshakes: number;
  /** Datagrams received. */
  datagramsReceived: number;
}

/** A userspace WireGuard device. */
export class Device {
  /** Our static identity. */
  readonly identity: LocalIdentity;
  /** Timer clock. */
  readonly clock: Clock;
  /** Logger. */
  readonly log: Logger;
  /** Wall-clock ms, for handshake timestamps. */
  readonly wallClock: () => number;
  /** MTU of the tunnel. */
  readonly mtu: number;
  /** Session index table. */
  readonly indices: IndexTable = new IndexTable();
  /** Cryptokey routing table. */
  readonly allowedIPs: AllowedIps<Peer> = new AllowedIps<Peer>();
  /** MAC1/MAC2 checks and cookie replies. */
  readonly cookieChecker: CookieChecker;
  /** Per-source handshake rate limit, applied under load. */
  readonly handshakeLimiter: RateLimiter;
  /** Counters. */
  readonly counters: DeviceCounters = {
    packetsReceived: 0,
    packetsSent: 0,
    keepalivesReceived: 0,
    handshakes: 0,
    datagramsReceived: 0,
  };
  /** Dropped datagrams and packets by reason. */
  readonly drops: Map<string, number> = new Map();
  /** Transport message crypto (key slots in WebAssembly). */
  readonly aead: TransportAead;
  /** Reused plaintext buffer for decryption (the receive path is synchronous). */
  readonly plainBuffer: Uint8Array = new Uint8Array(MAX_MESSAGE_SIZE);
  /**
   * Receives each decrypted inbound IP packet. The bytes are only valid during the call, and
   * only until the handler sends a packet (they live in the AEAD's memory, which sealing reuses):
   * copy them first, as the netstack does.
   */
  onPacket: (packet: Uint8Array, peer: Peer) => void = () => {};
  /** Sink for outgoing datagrams; set by {@linkcode Device.listen} or by tests. */
  sendDatagram: (data: Uint8Array, to: UdpRemote) => void = () => {};
  /**
   * Whether `sendDatagram` copies its data before returning (the Worker socket does): then
   * transport messages are built in one reused buffer instead of a fresh one per packet.
   */
  sendCopies = false;

  #peers = new Map<string, Peer>();
  #underLoadThreshold: number;
  #underLoadUntil = -Infinity;
  #windowStart = 0;
  #windowCount = 0;
  #socket: UdpSocket | null = null;
  #closed = false;

  /** Creates a device (no socket yet: call {@linkcode Device.listen} or wire `sendDatagram`). */
  constructor(options: DeviceOptions) {
    this.identity = createIdentity(options.privateKey);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? getLogger("wireguard");
    this.wallClock = options.wallClock ?? Date.now;
    this.mtu = options.mtu ?? 1420;
    this.#underLoadThreshold = options.underLoadThreshold ?? DEFAULT_UNDER_LOAD_THRESHOLD;
    this.cookieChecker = new CookieChecker(this.identity.publicKey, () => this.clock.now());
    this.handshakeLimiter = new RateLimiter({ now: () => this.clock.now() });
    this.aead = new TransportAead(options.crypto ?? "wasm");
  }

  /** Our public key. */
  get publicKey(): Key {
    return this.identity.publicKey;
  }

  /**
   * Whether another datagram is already waiting for the receive loop (false when the socket
   * cannot tell): the stack then lets a batch of packets in before waking its readers.
   */
  receivePending(): boolean {
    return this.#socket?.hasPending?.() ?? false;
  }

  /** The bound UDP socket, if listening. */
  get socket(): UdpSocket | null {
    return this.#socket;
  }

  /** Adds a peer; rejects duplicates and AllowedIPs that another peer already owns. */
  addPeer(config: PeerOptions): Peer {
    const id = encodeKey(config.publicKey);
    if (this.#peers.has(id)) throw new Error(`peer ${id} already exists`);
    const cidrs = (config.allowedIPs ?? []).map((c) => parseCidr(c, { allowBare: true }));
    for (const c of cidrs) {
      if (this.allowedIPs.get(c) !== undefined) {
        throw new Error(`AllowedIPs ${formatCidr(c)} already belongs to another peer`);
      }
    }
    const peer = new Peer(
      this,
      config.publicKey,
      config.presharedKey,
      config.endpoint ?? null,
      config.persistentKeepalive ?? 0,
    );
    this.#peers.set(id, peer);
    for (const c of cidrs) this.allowedIPs.insert(c, peer);
    if (peer.persistentKeepalive > 0 && peer.endpoint) peer.sendKeepalive();
    return peer;
  }

  /** Removes a peer: its routes, keys, timers and queued packets. */
  removePeer(publicKey: Key): boolean {
    const id = encodeKey(publicKey);
    const peer = this.#peers.get(id);
    if (!peer) return false;
    this.#peers.delete(id);
    this.allowedIPs.removeByPeer(peer);
    peer.remove();
    return true;
  }

  /** Looks a peer up by public key. */
  peerByKey(publicKey: Uint8Array): Peer | undefined {
    return this.#peers.get(encodeKey(publicKey));
  }

  /** All peers. */
  get peers(): Peer[] {
    return [...this.#peers.values()];
  }

  /**
   * Routes one outbound IP packet to the peer owning its destination and sends it (or starts a
   * handshake). The bytes need only be valid during the call.
   */
  sendPacket(packet: Uint8Array): void {
    const dst = ipPacketDestination(packet);
    const peer = dst ? this.allowedIPs.lookup(dst) : undefined;
    if (!peer) {
      this.countDrop("no-route");
      return;
    }
    this.counters.packetsSent++;
    peer.send(packet);
  }

  /** Processes one received datagram (exposed for tests and alternative transports). */
  receiveDatagram(data: Uint8Array, from: UdpRemote): void {
    this.counters.datagramsReceived++;
    try {
      receiveDatagram(this, data, from);
    } catch (err) {
      // A bug must not kill the receive loop; count it loudly instead.
      this.countDrop("internal-error");
      this.log.error("receive path error", { error: String(err) });
    }
  }

  /** Opens the UDP socket and runs the receive loop until {@linkcode Device.close}. */
  async listen(options: ListenOptions = {}): Promise<{ hostname: string; port: number }> {
    const port = options.port ?? 51820;
    const backend = options.backend ?? "auto";
    const directSend = options.directSend ?? true;
    const longPathDirect = options.longPathDirect ?? false;
    const listenUdp = (options.worker ?? true) ? listenUdpWorker : listenUdpOnMainThread;
    const common = { port, backend, directSend, longPathDirect };
    let socket: UdpSocket;
    if (options.hostname) {
      socket = await listenUdp({ hostname: options.hostname, ...common });
    } else {
      try {
        socket = await listenUdp({ hostname: "::", dualStack: true, ...common });
      } catch {
        socket = await listenUdp({ hostname: "0.0.0.0", ...common });
      }
    }
    this.#socket = socket;
    this.sendDatagram = (data, to) => socket.send(data, to);
    this.sendCopies = socket.copiesOnSend === true;
    this.#receiveLoop(socket);
    // the Worker socket's quiet mode: the main thread receives on a socket of its own at times
    socket.onSideSocket?.((side) => this.#receiveLoop(side));
    return socket.localAddr;
  }

  async #receiveLoop(socket: UdpSocket): Promise<void> {
    const buf = new Uint8Array(MAX_MESSAGE_SIZE);
    while (!this.#closed) {
      let r;
      try {
        r = await socket.receive(buf);
      } catch (err) {
        if (this.#closed) break;
        this.countDrop("socket-error");
        this.log.warn("udp receive failed", { error: String(err) });
        continue;
      }
      if (!r) break;
      this.receiveDatagram(buf.subarray(0, r.length), r.remote);
    }
  }

  #permitted = new BoundedCache<string, boolean>(4096);

  /**
   * Whether Deno lets us send to `to`. A UDP send needs net permission for its destination, so a
   * narrow `--allow-net` must include the peers' endpoint addresses; say so once per address.
   */
  endpointPermitted(to: UdpRemote): boolean {
    const host = to.address.includes(":")
      ? `[${to.address}]:${to.port}`
      : `${to.address}:${to.port}`;
    let ok = this.#permitted.get(host);
    if (ok === undefined) {
      try {
        ok = Deno.permissions.querySync({ name: "net", host }).state === "granted";
      } catch {
        ok = false;
      }
      this.#permitted.set(host, ok);
      if (!ok) {
        this.log.warn(
          `cannot send to peer endpoint ${host}: Deno has no net permission for it ` +
            `(add it to --allow-net, e.g. --allow-net=${
              to.address.includes(":") ? `[${to.address}]` : to.address
            })`,
        );
      }
    }
    return ok;
  }

  /** Forgets a keypair: frees its index and erases its keys. */
  retireKeypair(kp: Keypair): void {
    this.indices.delete(kp.localIndex);
    this.aead.release(kp.sendKey);
    this.aead.release(kp.receiveKey);
  }

  /** Counts a dropped datagram or packet by reason. */
  countDrop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  /**
   * Records one handshake message and tells whether the device is under load (the rate over the
   * last second above the threshold, sticky for a second as in wireguard-go).
   */
  noteHandshakeAndCheckLoad(): boolean {
    const now = this.clock.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (++this.#windowCount > this.#underLoadThreshold) {
      this.#underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
    }
    return now < this.#underLoadUntil;
  }

  /** Stops the socket and every peer's timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#peers.values()) p.remove();
    this.#socket?.close();
  }
}
