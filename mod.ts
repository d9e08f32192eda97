/**
 * @newt/proxy — a userspace WireGuard endpoint whose interface is a WebAssembly TCP/IP stack
 * (lwIP), proxying every TCP and UDP flow a peer sends into the tunnel to its real target with
 * `Deno.connect` / `Deno.listenDatagram`. Deno's `--allow-net` is the connection allow-list.
 *
 * Run it: `deno run --allow-net jsr:@newt/proxy` (this module is also the CLI).
 *
 * @example Generate a key pair the way `wg genkey | wg pubkey` does
 * ```ts
 * import { encodeKey, generatePrivateKey, publicKey } from "@newt/proxy";
 * const priv = generatePrivateKey();
 * const pub = encodeKey(publicKey(priv));
 * if (pub.length !== 44) throw new Error("unexpected key length");
 * ```
 *
 * @module
 */
export { type Clock, ManualClock, systemClock, Timer } from "./src/clock.ts";
export * from "./src/log.ts";
export {
  decodeKey,
  encodeKey,
  generatePresharedKey,
  generatePrivateKey,
  type Key,
  KeyFormatError,
  publicKey,
} from "./src/wireguard/keys.ts";
export {
  Device,
  type DeviceCounters,
  type DeviceOptions,
  type ListenOptions,
  type PeerOptions,
} from "./src/wireguard/device.ts";
export type { Peer, PeerStats } from "./src/wireguard/peer.ts";
export {
  ConfigError,
  type Endpoint,
  type InterfaceConfig,
  parseConfig,
  type ParseConfigOptions,
  type PeerConfig,
  type RawEntry,
  type RawSection,
  type SectionHandler,
  type WgConfig,
  writeConfig,
} from "./src/wireguard/config.ts";
export { type AllowedIpEntry, AllowedIps } from "./src/wireguard/allowedips.ts";
export {
  listenUdp,
  type ListenUdpOptions,
  type UdpBackend,
  type UdpReceived,
  type UdpRemote,
  type UdpSocket,
  type UdpStats,
} from "./src/udp_socket.ts";
export {
  type ProxyConfig,
  type ProxyHandle,
  type ProxyStatsSnapshot,
  type SocketCounters,
  startProxy,
} from "./src/server.ts";
export {
  bindDevice,
  createNetTun,
  createNetTunWithOptions,
  type DialTarget,
  Net,
  type NetTunOptions,
  type Tun,
} from "./src/tun.ts";
export { FlowProxy, type FlowProxyOptions } from "./src/proxy/proxy.ts";
export {
  BUILTIN_DENY,
  type DenyReason,
  parseRule,
  Policy,
  type PolicyOptions,
  type PolicyRule,
  type Proto,
  RuleSyntaxError,
  type Verdict,
} from "./src/proxy/policy.ts";
export { DEFAULT_TIMEOUTS, type ProxyTimeouts } from "./src/proxy/context.ts";
export {
  DEFAULT_FLOW_LIMITS,
  type FlowAdmission,
  type FlowLimits,
  type LimitReason,
} from "./src/proxy/limits.ts";
export type { CloseReason, FlowCounters, FlowRecord, ProxyStats } from "./src/proxy/stats.ts";
export {
  ConnectError,
  ConnectionResetError,
  Netstack,
  type NetstackOptions,
  type NetstackStats,
  TcpConn,
  type TcpFlowRequest,
  TcpListener,
  type UdpDatagram,
  UdpSocket as TunnelUdpSocket,
} from "./src/netstack/mod.ts";
export {
  type DnsClientStack,
  type DnsTransport,
  lookupHost,
  type LookupHostOptions,
  netstackTransport,
} from "./src/dns/client.ts";
export {
  type DnsServer,
  type DnsServerOptions,
  type DnsServerSocketStats,
  type DnsServerStack,
  serveDns,
} from "./src/dns/server.ts";
// Types the API above refers to, exported so that its documentation is complete.
export type { Cidr, ParsedCidr } from "./src/wire/ip_address.ts";
export type { Cidr as NetstackCidr, Family, FlowAddr, IpBytes } from "./src/netstack/addr.ts";
export type { NetstackError } from "./src/netstack/errors.ts";
export type { UnreachableKind } from "./src/netstack/icmp.ts";
export type { UnreachableTarget } from "./src/netstack/stack.ts";
export type { MssClampRule } from "./src/netstack/mss_clamp.ts";
export type { StatName, TS_STAT_NAMES, WASM_STAT_NAMES } from "./src/netstack/stats.ts";
export type {
  TransportAead,
  TransportCrypto,
  TransportKey,
} from "./src/wireguard/transport_aead.ts";
export type { CookieChecker, CookieGenerator } from "./src/wireguard/cookie.ts";
export type { RateLimiter, RateLimiterStats } from "./src/wireguard/ratelimiter.ts";
export type {
  Handshake,
  HandshakeStatus,
  LocalIdentity,
  SessionKeys,
} from "./src/wireguard/noise.ts";
export type { PreparedPrivateKey } from "./src/wireguard/crypto.ts";
export type { ReplayWindow } from "./src/wireguard/replay.ts";
export type { IndexEntry, IndexTable } from "./src/wireguard/index_table.ts";
export type { Keypair, Keypairs } from "./src/wireguard/keypair.ts";
export type { PeerTimers, TimerActions } from "./src/wireguard/timers.ts";
export type { UdpMapping, UdpProxyOptions } from "./src/proxy/udp.ts";
export type {
  AddressRecordType,
  DNS_RESOLVER_STAT_NAMES,
  DnsResolver,
  DnsResolverOptions,
  DnsResolverStatName,
  DnsResolverStats,
  ResolveFn,
  ResolveResult,
  UpstreamServer,
} from "./src/dns/resolver.ts";
import { main } from "./src/cli/main.ts";
export { main };

if (import.meta.main) Deno.exit(await main(Deno.args));
