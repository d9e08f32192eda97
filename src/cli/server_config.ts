/**
 * A server config file: wg-quick `[Interface]` + `[Peer]` sections (the server side) and an
 * optional `[Proxy]` section, parsed into what `startServer` takes plus {@link ProxyOptions}.
 * Beyond wg-quick it rejects AllowedIPs that overlap between peers (wg would let the longer
 * prefix win silently; for a proxy that would hand one client's traffic to another).
 *
 * @module
 */
import type { PeerOptions } from "../wireguard/device.ts";
import { type Cidr, cidrOverlaps, formatCidr, tryParseIp } from "../wire/ip_address.ts";
import { ConfigError, parseConfig, type PeerConfig, type WgConfig } from "../wireguard/config.ts";
import { formatKey } from "../wireguard/key_text.ts";
import { parseProxySections, type ProxyOptions } from "./proxy_section.ts";

/** A parsed and checked server config. */
export interface ServerConfig {
  /** The wg-quick part. */
  wg: WgConfig;
  /** The `[Proxy]` part with defaults filled in. */
  proxy: ProxyOptions;
}

/** Throws a {@link ConfigError} on the later peer's line when two peers' AllowedIPs overlap. */
export function checkPeerOverlaps(peers: readonly PeerConfig[]): void {
  const owned: Array<{ cidr: Cidr; peer: PeerConfig }> = [];
  for (const peer of peers) {
    for (const cidr of peer.allowedIps) {
      const clash = owned.find((o) => o.peer !== peer && cidrOverlaps(o.cidr, cidr));
      if (clash !== undefined) {
        const where = clash.peer.line ? ` on line ${clash.peer.line}` : "";
        throw new ConfigError(
          peer.line ?? 0,
          `AllowedIPs ${formatCidr(cidr)} overlaps ${formatCidr(clash.cidr)} of the peer${where}`,
        );
      }
      owned.push({ cidr, peer });
    }
  }
}

/** Parses server config text; throws {@link ConfigError} with the line of the first problem. */
export function parseServerConfig(text: string): ServerConfig {
  const wg = parseConfig(text, { allowSections: ["Proxy"] });
  if (wg.interface.addresses.length === 0) {
    throw new ConfigError(0, "[Interface] has no Address: the proxy needs its tunnel addresses");
  }
  checkPeerOverlaps(wg.peers);
  return { wg, proxy: parseProxySections(wg.sections) };
}

/** The `startServer` form of a config peer. Endpoints that are host names are left to roaming. */
export function toPeerOptions(peer: PeerConfig): PeerOptions {
  const options: PeerOptions = {
    publicKey: peer.publicKey,
    allowedIPs: peer.allowedIps.map(formatCidr),
    persistentKeepalive: peer.persistentKeepalive,
  };
  if (peer.presharedKey !== undefined) options.presharedKey = peer.presharedKey;
  if (peer.endpoint !== undefined && tryParseIp(peer.endpoint.host) !== undefined) {
    options.endpoint = { address: peer.endpoint.host, port: peer.endpoint.port };
  }
  return options;
}

/** A stable text describing everything about a peer that `startServer` uses (for reload diffs). */
export function peerFingerprint(peer: PeerConfig): string {
  return [
    formatKey(peer.publicKey),
    peer.presharedKey ? formatKey(peer.presharedKey) : "",
    peer.allowedIps.map(formatCidr).join(","),
    peer.endpoint ? `${peer.endpoint.host}:${peer.endpoint.port}` : "",
    peer.persistentKeepalive,
  ].join("|");
}

/** What a reload changes: peers to remove (by key) and peers to add. */
export interface PeerDiff {
  /** Public keys (base64) of peers gone or changed. */
  remove: string[];
  /** Peers new or changed. */
  add: PeerConfig[];
}

/** Peers to remove and add to go from `before` to `after`; unchanged peers are left alone. */
export function diffPeers(before: readonly PeerConfig[], after: readonly PeerConfig[]): PeerDiff {
  const old = new Map(before.map((p) => [formatKey(p.publicKey), peerFingerprint(p)]));
  const next = new Map(after.map((p) => [formatKey(p.publicKey), p]));
  const remove: string[] = [];
  const add: PeerConfig[] = [];
  for (const [key, print] of old) {
    const now = next.get(key);
    if (now === undefined || peerFingerprint(now) !== print) remove.push(key);
  }
  for (const [key, peer] of next) {
    if (old.get(key) !== peerFingerprint(peer)) add.push(peer);
  }
  return { remove, add };
}
