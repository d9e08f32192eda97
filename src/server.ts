/**
 * `startProxy`: one call from a config to a running endpoint — WireGuard device, netstack and
 * flow proxy wired together, with stats, runtime peers and timeouts, and a graceful close.
 * The CLI is a thin layer over it.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { getLogger, type Logger } from "./log.ts";
import type { ProxyTimeouts } from "./proxy/context.ts";
import type { FlowCounters } from "./proxy/stats.ts";
import type { FlowProxyOptions } from "./proxy/proxy.ts";
import type { Proto } from "./proxy/policy.ts";
import { bindDevice, createNetTunWithOptions, type Net, type NetTunOptions } from "./tun.ts";
import { formatCidr, tryParseIp } from "./wire/ip_address.ts";
import { Device, type PeerOptions } from "./wireguard/device.ts";
import type { Key } from "./wireguard/keys.ts";
import { type Peer, rxLost } from "./wireguard/peer.ts";
import { type DnsServer, type DnsServerOptions, serveDns } from "./dns/server.ts";
import type { UdpBackend, UdpSocket } from "./udp_socket.ts";
import { isUdpWorkerSocket } from "./udp_worker/mod.ts";

/** Options of {@linkcode startProxy}. */
export interface ProxyConfig {
  /** The server's private key. */
  privateKey: Key;
  /** UDP port for WireGuard (0 = any free port). Default 51820. */
  listenPort?: number;
  /** Address to bind (default dual-stack "::", falling back to "0.0.0.0"). */
  listenHostname?: string;
  /** The server's own tunnel addresses with prefix, e.g. ["10.88.0.1/24", "fd88::1/64"]. */
  addresses: string[];
  /** DNS servers inside the tunnel (for `net.lookupHost`). */
  dns?: string[];
  /**
   * The built-in resolver on the stack's own addresses, port 53 (what the client config's `DNS =`
   * points at): answers with `Deno.resolveDns`, leaving out addresses the policy refuses. On by
   * default; `false` turns it off, an object sets its upstream and limits.
   */
  dnsResolver?: boolean | DnsServerOptions;
  /** Tunnel MTU. Default 1420. */
  mtu?: number;
  /** Peers to add at start. */
  peers?: PeerOptions[];
  /** Proxy TCP (default true). */
  tcp?: boolean;
  /** Proxy UDP (default true). */
  udp?: boolean;
  /** Policy, limits, timeouts, flow log (see FlowProxyOptions). */
  proxy?: Omit<FlowProxyOptions, "peerOf" | "logger">;
  /** Netstack tuning. */
  netstack?: NetTunOptions["netstack"];
  /** Logger for the device and proxy. */
  logger?: Logger;
  /** Clock (tests). */
  clock?: Clock;
  /** UDP backend for the WireGuard socket. */
  udpBackend?: "auto" | UdpBackend;
  /**
   * Receive and send the WireGuard socket's datagrams in a Worker (default true): bulk
   * throughput; false keeps them on the main thread, which saves two thread wake-ups per
   * round trip (short connections set up faster) at the cost of bulk throughput.
   */
  udpWorker?: boolean;
  /**
   * With the UDP Worker, sparse traffic is received and sent on sockets of the main thread's own
   * (default true): short connections skip the hand-overs to and from the Worker. They bind the
   * port with `SO_REUSEADDR` (after an exclusive bind that checks the port is free); false keeps
   * the port exclusive (another local process setting `SO_REUSEADDR` could otherwise bind it too).
   */
  directSend?: boolean;
  /**
   * With direct send: a flow on a long path (lowest RTT 4 ms or more) that sends in bulk has its
   * datagrams sent, and its ACKs received, on the main thread's sockets (default false). It paid
   * where a send is cheap (an Intel Xeon: impaired download +15–25%) and cost on a 2-core EPYC
   * where a send takes the main thread ~12 µs (−10–20%): measure on yours (`deno task bench`).
   */
  longPathDirect?: boolean;
}

/** Live figures of a running proxy. */
export interface ProxyStatsSnapshot {
  /** The UDP port WireGuard listens on. */
  listenPort: number;
  /** Per-peer figures. */
  peers: Array<{
    publicKey: Key;
    shortKey: string;
    endpoint: string | null;
    lastHandshake: number;
    rxBytes: number;
    /** Transport messages received (see PeerStats.rxMessages). */
    rxMessages: number;
    /** Messages the peer sent that never arrived: counter gaps not filled later. */
    rxLost: number;
    /** Counter gaps seen (see PeerStats.rxGaps); only grows. */
    rxGaps: number;
    /** Late arrivals that filled a gap (see PeerStats.rxLate); only grows. */
    rxLate: number;
    txBytes: number;
    allowedIPs: string[];
    flows: FlowCounters | undefined;
  }>;
  /** Device counters. */
  device: Device["counters"];
  /** Device drops by reason. */
  drops: Record<string, number>;
  /** Proxy totals. */
  tcp: FlowCounters;
  /** Proxy UDP totals. */
  udp: FlowCounters;
  /** Netstack counters. */
  netstack: Record<string, number>;
  /** Built-in resolver counters. */
  dns: Record<string, number>;
  /** The WireGuard socket's datagrams and where it dropped them. */
  socket: SocketCounters;
}

/**
 * The WireGuard socket's datagrams and drops between the kernel and the device. The kernel's own
 * drops (a full socket buffer: `UdpRcvbufErrors` in `/proc/net/snmp`) are not visible to Deno.
 */
export interface SocketCounters {
  /**
   * "deno" (`Deno.listenDatagram`), "node" (`node:dgram`) or "ffi" (libc, `--udp-ffi`); null
   * before listening.
   */
  backend: UdpBackend | null;
  /** Whether the socket's syscalls run in the UDP Worker. */
  worker: boolean;
  /** Datagrams handed to the device. */
  received: number;
  /** Of those, received on the main thread's own socket (the UDP Worker's quiet mode). */
  receivedDirect: number;
  /** Datagrams the device asked to send. */
  sent: number;
  /** Of those, sent on the main thread's own socket while the Worker slept (direct send). */
  sentDirect: number;
  /**
   * Times a flow on a long path began sending in bulk, paced (`Netstack.onLongPath`): the main
   * thread then sends on its own socket whatever the load.
   */
  longPaths: number;
  /** Received datagrams dropped because the Worker's receive ring (or node's queue) was full. */
  receiveQueueFull: number;
  /** Datagrams not sent because the Worker's send ring was full. */
  sendQueueFull: number;
  /** Sends the kernel or the runtime refused (unreachable, no permission, …). */
  sendFailed: number;
  /** Datagrams longer than the receive buffer, cut. */
  truncated: number;
  /** Text of the most recent send error, if any. */
  lastSendError: string | null;
}

/** The {@link SocketCounters} fields that count drops. */
const SOCKET_DROP_FIELDS = [
  "receiveQueueFull",
  "sendQueueFull",
  "sendFailed",
  "truncated",
] as const;
/** Drops by {@link SocketCounters} field. */
export type SocketDrops = Partial<Record<typeof SOCKET_DROP_FIELDS[number], number>>;

/** How often `startProxy` looks for new socket drops to warn about. */
export const SOCKET_DROP_CHECK_MS = 10_000;

/** Inbound loss (counter gaps) is warned about from this fraction of a peer's messages... */
export const INBOUND_LOSS_WARN_FRACTION = 0.05;
/** ...when the peer sent at least this many in one check. */
export const INBOUND_LOSS_WARN_MIN_MESSAGES = 1000;

/**
 * Whether `lost` of `lost + received` messages in one check is worth a warning: a loss this
 * high is either a bad path or this host's socket buffer overflowing (which the kernel counts
 * only host-wide, in `/proc/net/snmp`).
 */
export function inboundLossWorthWarning(lost: number, received: number): boolean {
  const sent = lost + received;
  return sent >= INBOUND_LOSS_WARN_MIN_MESSAGES && lost >= INBOUND_LOSS_WARN_FRACTION * sent;
}

/**
 * What the socket dropped between two readings, by {@link SocketCounters} field (only those that
 * grew), or null when nothing was. `startProxy` logs it as one warning per check.
 */
export function socketDropsSince(before: SocketCounters, now: SocketCounters): SocketDrops | null {
  const out: SocketDrops = {};
  let any = false;
  for (const k of SOCKET_DROP_FIELDS) {
    const d = now[k] - before[k];
    if (d > 0) {
      out[k] = d;
      any = true;
    }
  }
  return any ? out : null;
}

/** Reads {@link SocketCounters} off the device's socket. */
export function socketCounters(sock: UdpSocket | null): SocketCounters {
  if (!sock) {
    return {
      backend: null,
      worker: false,
      received: 0,
      receivedDirect: 0,
      sent: 0,
      sentDirect: 0,
      longPaths: 0,
      receiveQueueFull: 0,
      sendQueueFull: 0,
      sendFailed: 0,
      truncated: 0,
      lastSendError: null,
    };
  }
  const s = sock.stats;
  const worker = isUdpWorkerSocket(sock);
  const sendQueueFull = worker ? sock.stats.txRingDropped : 0;
  return {
    backend: sock.backend,
    worker,
    received: s.received,
    receivedDirect: worker ? sock.stats.directReceived : 0,
    sent: s.sent,
    sentDirect: worker ? sock.stats.directSent : 0,
    longPaths: worker ? sock.stats.longPaths : 0,
    receiveQueueFull: s.dropped,
    sendQueueFull,
    sendFailed: s.sendErrors - sendQueueFull,
    truncated: s.truncated,
    lastSendError: s.lastSendError ?? null,
  };
}

/** A running proxy. */
export interface ProxyHandle {
  /** The WireGuard device. */
  readonly device: Device;
  /** The network inside the tunnel (netstack, proxy switches, dial/listen). */
  readonly net: Net;
  /** The UDP port WireGuard listens on. */
  readonly listenPort: number;
  /** Adds a peer at runtime. */
  addPeer(peer: PeerOptions): Peer;
  /** Removes a peer at runtime, ending its flows and sessions. */
  removePeer(publicKey: Key): boolean;
  /** Changes timeouts at runtime. */
  setTimeouts(t: Partial<ProxyTimeouts>): void;
  /** Current figures. */
  stats(): ProxyStatsSnapshot;
  /** Stops accepting, lets flows drain up to `drainMs`, then closes everything. */
  close(drainMs?: number): Promise<void>;
  /**
   * Settles with the error if the netstack stops itself (an internal assertion in the wasm
   * module); the endpoint then carries no traffic and should be restarted. Never settles otherwise.
   */
  readonly failed: Promise<Error>;
}

/** This host's own addresses, when `--allow-sys` lets us ask (for the own-endpoint deny). */
function hostAddresses(): Uint8Array[] {
  try {
    if (
      Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" }).state !== "granted"
    ) {
      return [];
    }
    return Deno.networkInterfaces().map((i) => tryParseIp(i.address)).filter((a): a is Uint8Array =>
      a !== undefined
    );
  } catch {
    return [];
  }
}

/** Starts the WireGuard device, the netstack and the proxy. */
export async function startProxy(config: ProxyConfig): Promise<ProxyHandle> {
  const log = config.logger ?? getLogger("newt");
  const mtu = config.mtu ?? 1420;
  const device = new Device({
    privateKey: config.privateKey,
    mtu,
    clock: config.clock ?? systemClock,
    logger: log,
  });
  // Asked for every datagram and flow: the last answer is kept until the routes change.
  let lastAddress = "", lastPeer = "", lastVersion = -1;
  const peerOf = (address: string) => {
    const routes = device.allowedIPs;
    if (address === lastAddress && routes.version === lastVersion) return lastPeer;
    const a = tryParseIp(address);
    lastPeer = (a && routes.lookup(a)?.shortKey) ?? "";
    lastAddress = address;
    lastVersion = routes.version;
    return lastPeer;
  };
  const listenPort = config.listenPort ?? 51820;
  const own: Array<{ addr?: Uint8Array; port: number; proto: Proto }> = [];
  const { tun, net } = await createNetTunWithOptions(config.addresses, config.dns ?? [], mtu, {
    enableTcpProxy: config.tcp ?? true,
    enableUdpProxy: config.udp ?? true,
    proxy: { ...config.proxy, ownEndpoints: own, logger: log, peerOf },
    ...(config.netstack ? { netstack: config.netstack } : {}),
  });
  bindDevice(device, tun);
  const failed = Promise.withResolvers<Error>();
  net.stack.onFatal = (e) => {
    log.critical("netstack stopped: the endpoint carries no traffic until restarted", {
      error: e.message,
    });
    failed.resolve(e);
  };
  let dns: DnsServer | null = null;
  if (config.dnsResolver !== false) {
    const opts = typeof config.dnsResolver === "object" ? config.dnsResolver : {};
    dns = serveDns(net.stack, {
      allowAnswer: (a) => net.proxy.policy.addressAllowed(a),
      ...opts,
    });
  }
  for (const p of config.peers ?? []) device.addPeer(p);
  let addr: { hostname: string; port: number };
  try {
    addr = await device.listen({
      port: listenPort,
      ...(config.listenHostname ? { hostname: config.listenHostname } : {}),
      backend: config.udpBackend ?? "auto",
      worker: config.udpWorker ?? true,
      directSend: config.directSend ?? true,
      longPathDirect: config.longPathDirect ?? false,
    });
  } catch (err) {
    device.close();
    await dns?.close();
    await net.close();
    throw err;
  }
  // Peers must not reach our own WireGuard port through the proxy.
  // Without --allow-sys the host's addresses are unknown: refuse the port on every address.
  const hostAddrs = hostAddresses();
  if (hostAddrs.length === 0) own.push({ port: addr.port, proto: "udp" });
  for (const a of hostAddrs) own.push({ addr: a, port: addr.port, proto: "udp" });
  own.push(...(config.proxy?.ownEndpoints ?? []));
  log.info("wireguard listening", { port: addr.port, backend: device.socket?.backend });
  // Drops between the kernel and the device are otherwise silent: one warning per check.
  let lastCounters = socketCounters(device.socket);
  const lastLoss = new WeakMap<Peer, { lost: number; received: number }>();
  const seconds = SOCKET_DROP_CHECK_MS / 1000;
  const dropWatch = setInterval(() => {
    const now = socketCounters(device.socket);
    const grew = socketDropsSince(lastCounters, now);
    lastCounters = now;
    if (grew) {
      log.warn("wireguard socket dropped datagrams", {
        ...grew,
        seconds,
        ...(grew.sendFailed ? { lastSendError: now.lastSendError } : {}),
      });
    }
    for (const peer of device.peers) {
      const s = peer.stats;
      const cur = { lost: rxLost(s), received: s.rxMessages };
      const prev = lastLoss.get(peer) ?? { lost: 0, received: 0 };
      lastLoss.set(peer, cur);
      const lost = cur.lost - prev.lost, received = cur.received - prev.received;
      if (inboundLossWorthWarning(lost, received)) {
        log.warn("peer's datagrams lost on the way in", {
          peer: peer.shortKey,
          lost,
          of: lost + received,
          seconds,
          hint: "path loss, or this host's UDP receive buffer overflowing (Deno cannot raise " +
            "SO_RCVBUF; see the README's Performance section: --udp-ffi, net.core.rmem_default)",
        });
      }
    }
  }, SOCKET_DROP_CHECK_MS);
  Deno.unrefTimer(dropWatch);
  return {
    device,
    net,
    failed: failed.promise,
    listenPort: addr.port,
    addPeer: (p) => device.addPeer(p),
    removePeer: (k) => {
      const peer = device.peerByKey(k);
      if (!peer) return false;
      net.proxy.closePeer(peer.shortKey);
      return device.removePeer(k);
    },
    setTimeouts: (t) => net.proxy.setTimeouts(t),
    stats: () => {
      const flows = net.proxy.stats.snapshot();
      return {
        listenPort: addr.port,
        peers: device.peers.map((p) => ({
          publicKey: p.publicKey,
          shortKey: p.shortKey,
          endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
          lastHandshake: p.stats.lastHandshake,
          rxBytes: p.stats.rxBytes,
          rxMessages: p.stats.rxMessages,
          rxLost: rxLost(p.stats),
          rxGaps: p.stats.rxGaps,
          rxLate: p.stats.rxLate,
          txBytes: p.stats.txBytes,
          allowedIPs: device.allowedIPs.entriesForPeer(p).map(formatCidr),
          flows: flows.perPeer[p.shortKey],
        })),
        device: { ...device.counters },
        drops: Object.fromEntries(device.drops),
        tcp: flows.tcp,
        udp: flows.udp,
        netstack: { ...net.stack.stats() } as unknown as Record<string, number>,
        dns: dns ? { ...dns.stats() } as unknown as Record<string, number> : {},
        socket: socketCounters(device.socket),
      };
    },
    close: async (drainMs = 0) => {
      clearInterval(dropWatch);
      await net.proxy.close(drainMs);
      await dns?.close();
      device.close();
      net.stack.close();
    },
  };
}

function formatEndpoint(e: { address: string; port: number }): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** @deprecated Alias of {@linkcode startProxy} kept for the CLI's first pass. */
export const startServer: typeof startProxy = startProxy;
/** Alias of {@linkcode ProxyConfig}. */
export type ServerOptions = ProxyConfig;
/** Alias of {@linkcode ProxyHandle}. */
export type ServerHandle = ProxyHandle;
/** Alias of {@linkcode ProxyStatsSnapshot}. */
export type ServerStats = ProxyStatsSnapshot;
