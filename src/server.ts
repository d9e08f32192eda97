/**
 * `startServer`: wires the WireGuard device, the netstack and the proxy into one running
 * endpoint, and returns a handle with stats, peer management and a graceful close. The CLI and
 * `startProxy` are thin layers over it.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { getLogger, type Logger } from "./log.ts";
import { Device, type PeerOptions } from "./wireguard/device.ts";
import type { Key } from "./wireguard/keys.ts";
import type { Peer } from "./wireguard/peer.ts";
import { formatCidr } from "./wire/ip_address.ts";

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** The server's private key. */
  privateKey: Key;
  /** UDP port for WireGuard (0 = any free port). Default 51820. */
  listenPort?: number;
  /** Address to bind (default dual-stack "::", falling back to "0.0.0.0"). */
  listenHostname?: string;
  /** The server's own tunnel addresses with prefix, e.g. ["10.88.0.1/24", "fd88::1/64"]. */
  addresses: string[];
  /** Tunnel MTU. Default 1420. */
  mtu?: number;
  /** Peers to add at start. */
  peers?: PeerOptions[];
  /** Logger for the device and proxy. */
  logger?: Logger;
  /** Clock (tests). */
  clock?: Clock;
  /** UDP backend. */
  udpBackend?: "auto" | "deno" | "node";
}

/** Live figures of a running server. */
export interface ServerStats {
  /** The UDP port WireGuard listens on. */
  listenPort: number;
  /** Per-peer figures. */
  peers: Array<{
    publicKey: Key;
    endpoint: string | null;
    lastHandshake: number;
    rxBytes: number;
    txBytes: number;
    allowedIPs: string[];
  }>;
  /** Device counters. */
  device: Device["counters"];
  /** Drops by reason. */
  drops: Record<string, number>;
}

/** A running server. */
export interface ServerHandle {
  /** The WireGuard device. */
  readonly device: Device;
  /** The UDP port WireGuard listens on. */
  readonly listenPort: number;
  /** Adds a peer at runtime. */
  addPeer(peer: PeerOptions): Peer;
  /** Removes a peer at runtime, ending its flows. */
  removePeer(publicKey: Key): boolean;
  /** Current figures. */
  stats(): ServerStats;
  /** Stops accepting, lets flows drain up to `drainMs`, then closes everything. */
  close(drainMs?: number): Promise<void>;
}

/** Starts the device (and, as they land, the netstack and the proxy). */
export async function startServer(options: ServerOptions): Promise<ServerHandle> {
  const log = options.logger ?? getLogger("newt");
  const device = new Device({
    privateKey: options.privateKey,
    mtu: options.mtu ?? 1420,
    clock: options.clock ?? systemClock,
    logger: log,
  });
  for (const p of options.peers ?? []) device.addPeer(p);
  const addr = await device.listen({
    port: options.listenPort ?? 51820,
    ...(options.listenHostname ? { hostname: options.listenHostname } : {}),
    backend: options.udpBackend ?? "auto",
  });
  log.info("wireguard listening", { port: addr.port, backend: device.socket?.backend });
  return {
    device,
    listenPort: addr.port,
    addPeer: (p) => device.addPeer(p),
    removePeer: (k) => device.removePeer(k),
    stats: () => ({
      listenPort: addr.port,
      peers: device.peers.map((p) => ({
        publicKey: p.publicKey,
        endpoint: p.endpoint ? `${p.endpoint.address}:${p.endpoint.port}` : null,
        lastHandshake: p.stats.lastHandshake,
        rxBytes: p.stats.rxBytes,
        txBytes: p.stats.txBytes,
        allowedIPs: device.allowedIPs.entriesForPeer(p).map(formatCidr),
      })),
      device: { ...device.counters },
      drops: Object.fromEntries(device.drops),
    }),
    close: (_drainMs = 0) => {
      device.close();
      return Promise.resolve();
    },
  };
}
