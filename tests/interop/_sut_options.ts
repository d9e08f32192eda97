/**
 * The proxy's settings as the interop and soak drivers pass them to a SUT subprocess (one JSON
 * argument), and their translation into {@link ProxyConfig}.
 */
import type { ProxyConfig } from "../../src/server.ts";
import { decodeKey } from "../../src/wireguard/keys.ts";
import { parseRule } from "../../src/proxy/policy.ts";

/** What a driver sends: keys as base64 text, rules as config-file lines. */
export interface SutOptions {
  privateKey: string;
  listenPort: number;
  addresses: string[];
  peers: Array<{ publicKey: string; allowedIPs: string[] }>;
  rules?: string[];
  tcpConnectTimeoutMs?: number;
  udpIdleTimeoutMs?: number;
  udpBackend?: "ffi";
  /** TCP timestamps on the tunnel side (NetstackOptions.tcpTimestamps). */
  tcpTimestamps?: boolean;
}

/** Parses the SUT's JSON argument into a proxy config (no logger: the SUT picks its own). */
export function sutProxyConfig(json: string): ProxyConfig {
  const opts = JSON.parse(json) as SutOptions;
  return {
    privateKey: decodeKey(opts.privateKey),
    listenPort: opts.listenPort,
    addresses: opts.addresses,
    peers: opts.peers.map((p) => ({ publicKey: decodeKey(p.publicKey), allowedIPs: p.allowedIPs })),
    proxy: {
      rules: (opts.rules ?? []).map(parseRule),
      timeouts: {
        ...(opts.tcpConnectTimeoutMs ? { tcpConnectTimeoutMs: opts.tcpConnectTimeoutMs } : {}),
        ...(opts.udpIdleTimeoutMs ? { udpIdleTimeoutMs: opts.udpIdleTimeoutMs } : {}),
      },
    },
    ...(opts.udpBackend ? { udpBackend: opts.udpBackend } : {}),
    ...(opts.tcpTimestamps !== undefined
      ? { netstack: { tcpTimestamps: opts.tcpTimestamps } }
      : {}),
  };
}
