/**
 * Turns the `[Proxy]` section's {@link ProxyOptions} into the flow proxy's options of
 * `startProxy` (src/server.ts): rules, limits, timeouts, flow log, and our own listen endpoints
 * (the metrics port) that peers must not reach through the proxy; and into the UDP socket's and
 * the netstack's options.
 *
 * @module
 */
import type { ProxyConfig } from "../server.ts";
import type { ProxyOptions } from "./proxy_section.ts";

/** The `dnsResolver` field of `startProxy`'s config. */
export type DnsResolverOption = NonNullable<ProxyConfig["dnsResolver"]>;

/** The built-in resolver setting: off, or on with the configured upstream. */
export function dnsResolverOption(o: ProxyOptions): DnsResolverOption {
  if (!o.dnsResolver) return false;
  return o.dnsUpstream === undefined ? true : { upstream: { ...o.dnsUpstream } };
}

/** The `proxy` field of `startProxy`'s config. */
export type FlowOptions = NonNullable<ProxyConfig["proxy"]>;

/** The fields of `startProxy`'s config set by the `[Proxy]` keys for the socket and the netstack. */
export type TransportOptions = Pick<
  ProxyConfig,
  "udpWorker" | "directSend" | "longPathDirect" | "udpBackend" | "netstack"
>;

/**
 * The UDP socket's and the netstack's options (`UdpWorker`, `DirectSend`, `LongPathDirect`,
 * `UdpBackend`, `TcpTimestamps`): one mapping for the CLI and the benchmark's system under test.
 */
export function transportOptions(o: ProxyOptions): TransportOptions {
  return {
    udpWorker: o.udpWorker,
    directSend: o.directSend,
    longPathDirect: o.longPathDirect,
    udpBackend: o.udpBackend,
    netstack: { tcpTimestamps: o.tcpTimestamps },
  };
}

const UNLIMITED = Number.MAX_SAFE_INTEGER;

function limit(n: number): number {
  return Number.isFinite(n) ? n : UNLIMITED;
}

/** Builds the flow proxy options; `ownTcpPorts` are this process's TCP listen ports. */
export function flowProxyOptions(
  o: ProxyOptions,
  ownTcpPorts: readonly number[] = [],
): FlowOptions {
  const limits: NonNullable<FlowOptions["limits"]> = {};
  if (o.maxFlows !== undefined) limits.maxFlows = limit(o.maxFlows);
  if (o.maxFlowsPerPeer !== undefined) limits.maxFlowsPerPeer = limit(o.maxFlowsPerPeer);
  if (o.newFlowRate !== undefined) {
    limits.newFlowsPerSecond = limit(o.newFlowRate);
    // Burst of two seconds' worth, as the proxy's own default (200/s, burst 400).
    limits.newFlowBurst = Number.isFinite(o.newFlowRate)
      ? Math.max(1, Math.ceil(o.newFlowRate * 2))
      : UNLIMITED;
  }
  if (o.flowBandwidth !== undefined) limits.flowBytesPerSecond = o.flowBandwidth;
  return {
    rules: o.rules,
    limits,
    timeouts: {
      tcpConnectTimeoutMs: o.tcpConnectTimeoutMs,
      tcpIdleTimeoutMs: o.tcpIdleTimeoutMs,
      udpIdleTimeoutMs: o.udpIdleTimeoutMs,
    },
    flowLog: o.flowLog,
    acceptBeforeDial: o.acceptBeforeDial,
    ownEndpoints: ownTcpPorts.map((port) => ({ port, proto: "tcp" as const })),
  };
}
