/**
 * The `[Proxy]` section of a server config: policy rules, limits, timeouts, log and metrics
 * settings. Keys are case-insensitive; an unknown key (with the closest valid one named), a
 * repeated single-valued key or a bad value is a {@link ConfigError} on its line.
 *
 * ```ini
 * [Proxy]
 * LogLevel = info            # debug | info | warn | error | critical
 * LogFormat = json           # text | json
 * FlowLog = off              # one line per flow (on by default; flow logs are personal data)
 * Metrics = 127.0.0.1:9090   # Prometheus text exposition at /metrics; off by default
 * MaxFlows = 10000           # concurrent flows, all peers (0 or off = unlimited; default 10000)
 * MaxFlowsPerPeer = 1000     # (default 2000)
 * NewFlowRate = 50/s         # new flows/s per peer, burst 2x (N, N/s or N/m; off = unlimited; default 200/s)
 * FlowBandwidth = 10M        # per flow and direction, bytes/s with K/M/G (off = unlimited, the default)
 * TcpConnectTimeout = 5s     # durations: 500ms, 5s, 2m, 1h; a bare number is seconds
 * UdpWorker = off            # WireGuard socket on the main thread: faster set-up, less bulk throughput
 * DirectSend = off           # keep the WireGuard port exclusive (no main-thread sockets beside the Worker's)
 * LongPathDirect = on        # a long path's bulk sent from the main thread (off by default; see README)
 * UdpBackend = ffi           # libc socket through FFI: 4 MiB buffers, recvmmsg/sendmmsg (--allow-ffi)
 * AcceptBeforeDial = on      # SYN-ACK before the dial for targets reached in the last 30 s (off by default)
 * TcpTimestamps = off        # no TCP timestamps (on by default: they let clients reuse ports sooner)
 * TcpIdleTimeout = 60s
 * UdpIdleTimeout = 60s
 * DrainTimeout = 10s         # on SIGINT/SIGTERM, how long open flows may finish
 * Deny = any:25 tcp          # rules, in file order, first match wins; no match = allowed
 * Allow = 10.0.0.0/8:80-443 tcp
 * Allow = [fd00::]/8:53 udp peer=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
 * DnsResolver = on          # the built-in resolver on the tunnel addresses, port 53 (default on)
 * DnsUpstream = 1.1.1.1      # its upstream, IP[:port] or [IPv6]:port (default: the host's resolver)
 * Endpoint = vpn.example.com:51820   # what printed client configs use as Endpoint
 * ClientDNS = 10.88.0.1      # DNS written into printed client configs (default: the server's addresses)
 * ```
 *
 * @module
 */
import type { LevelName } from "../log.ts";
import type { UdpBackend } from "../udp_socket.ts";
import { parseRule, type PolicyRule, RuleSyntaxError } from "../proxy/policy.ts";
import {
  formatHostPort,
  formatIp,
  IpParseError,
  parseHostPort,
  tryParseIp,
} from "../wire/ip_address.ts";
import { ConfigError, type RawEntry, type RawSection } from "../wireguard/config.ts";
import { closest } from "./closest.ts";
import { DurationError, parseDuration } from "./duration.ts";

/** A `host:port` to listen on. */
export interface ListenAddress {
  /** Host name or IP literal (IPv6 without brackets). */
  hostname: string;
  /** TCP port (0 = any free port). */
  port: number;
}

/** Log output format. */
export type LogFormat = "text" | "json";

/** Everything the `[Proxy]` section configures, with defaults filled in. */
export interface ProxyOptions {
  /** Minimum log level. */
  logLevel: LevelName;
  /** Log line format. */
  logFormat: LogFormat;
  /** Whether to log one line per flow. */
  flowLog: boolean;
  /** Where to serve Prometheus metrics; undefined = off. */
  metrics: ListenAddress | undefined;
  /** Most concurrent flows over all peers; undefined = the proxy's default, Infinity = no limit. */
  maxFlows: number | undefined;
  /** Most concurrent flows per peer; undefined = the proxy's default, Infinity = no limit. */
  maxFlowsPerPeer: number | undefined;
  /** New flows per second per peer; undefined = the proxy's default, Infinity = no limit. */
  newFlowRate: number | undefined;
  /** Bandwidth cap per flow and direction in bytes/s; undefined = none. */
  flowBandwidth: number | undefined;
  /** TCP dial timeout towards the target. */
  tcpConnectTimeoutMs: number;
  /** Accept SYNs to recently reachable targets before dialing them (FlowProxyOptions). */
  acceptBeforeDial: boolean;
  /** The WireGuard socket's syscalls in a Worker (ProxyConfig.udpWorker). */
  udpWorker: boolean;
  /** Sparse traffic on main-thread sockets beside the Worker's (ProxyConfig.directSend). */
  directSend: boolean;
  /** A long path's bulk sent from the main thread (ProxyConfig.longPathDirect). */
  longPathDirect: boolean;
  /** TCP timestamps on the tunnel side (NetstackOptions.tcpTimestamps). */
  tcpTimestamps: boolean;
  /** The WireGuard socket's implementation (ProxyConfig.udpBackend). */
  udpBackend: "auto" | UdpBackend;
  /** TCP idle timeout (after half-close, and with no traffic). */
  tcpIdleTimeoutMs: number;
  /** UDP session idle timeout. */
  udpIdleTimeoutMs: number;
  /** How long flows may drain on SIGINT/SIGTERM. */
  drainTimeoutMs: number;
  /** Allow/deny rules in file order (first match wins; no match = allowed). */
  rules: PolicyRule[];
  /** Whether the built-in DNS resolver answers on the tunnel addresses. */
  dnsResolver: boolean;
  /** Its upstream; undefined = the host's resolver. */
  dnsUpstream: { ipAddr: string; port: number } | undefined;
  /** Public endpoint for printed client configs (`host:port`). */
  endpoint: string | undefined;
  /** DNS servers for printed client configs; undefined = the server's tunnel addresses. */
  clientDns: string[] | undefined;
}

/** Defaults of every {@link ProxyOptions} field (DESIGN.md: "Behaviour the seed fixes"). */
export const DEFAULT_PROXY_OPTIONS: Readonly<ProxyOptions> = Object.freeze({
  logLevel: "INFO",
  logFormat: "text",
  flowLog: true,
  metrics: undefined,
  maxFlows: undefined,
  maxFlowsPerPeer: undefined,
  newFlowRate: undefined,
  flowBandwidth: undefined,
  tcpConnectTimeoutMs: 5_000,
  acceptBeforeDial: false,
  udpWorker: true,
  directSend: true,
  longPathDirect: false,
  tcpTimestamps: true,
  udpBackend: "auto",
  tcpIdleTimeoutMs: 60_000,
  udpIdleTimeoutMs: 60_000,
  drainTimeoutMs: 10_000,
  rules: [],
  dnsResolver: true,
  dnsUpstream: undefined,
  endpoint: undefined,
  clientDns: undefined,
});

/** Log level names accepted in configs and flags (lower case). */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "critical"] as const;

/** Parses a log level name (case-insensitive). */
export function parseLogLevel(text: string): LevelName | undefined {
  const lower = text.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(lower)
    ? lower.toUpperCase() as LevelName
    : undefined;
}

/** Parses a listen address `host:port` (IPv6 bracketed); throws a message on error. */
export function parseListenAddress(text: string): ListenAddress {
  try {
    const hp = parseHostPort(text);
    return { hostname: hp.host, port: hp.port };
  } catch (e) {
    if (e instanceof IpParseError) throw new Error(`'${text}' is not host:port (${e.reason})`);
    throw e;
  }
}

function parseBool(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (["on", "true", "yes", "1"].includes(v)) return true;
  if (["off", "false", "no", "0"].includes(v)) return false;
  return undefined;
}

function parseLimit(value: string): number {
  if (value.toLowerCase() === "off" || value === "0") return Infinity;
  if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new Error("must be a whole number, 0 or off");
  return Number(value);
}

function parseRate(value: string): number {
  if (value.toLowerCase() === "off") return Infinity;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(?:\/\s*(s|m))?$/i.exec(value);
  if (m === null) throw new Error("must be N, N/s or N/m (0 or off = unlimited)");
  const n = Number(m[1]) / ((m[2] ?? "s").toLowerCase() === "m" ? 60 : 1);
  return n === 0 ? Infinity : n;
}

function parseDnsUpstream(item: string): { ipAddr: string; port: number } {
  const ip = tryParseIp(item.replace(/^\[(.*)\]$/, "$1"));
  if (ip !== undefined) return { ipAddr: formatIp(ip), port: 53 };
  const hp = parseHostPort(item);
  if (hp.ip === undefined) {
    throw new Error(`'${item}' is not an IP address (host names need a resolver)`);
  }
  if (hp.port === 0) throw new Error(`'${item}': port must be 1-65535`);
  return { ipAddr: formatIp(hp.ip), port: hp.port };
}

type Setter = (o: ProxyOptions, value: string) => void;

const durationSetter = (
  field: "tcpConnectTimeoutMs" | "tcpIdleTimeoutMs" | "udpIdleTimeoutMs" | "drainTimeoutMs",
  min: number,
  max: number,
): Setter =>
(o, v) => {
  o[field] = parseDuration(v, min, max);
};

const boolSetter = (
  field:
    | "flowLog"
    | "acceptBeforeDial"
    | "udpWorker"
    | "directSend"
    | "longPathDirect"
    | "tcpTimestamps"
    | "dnsResolver",
): Setter =>
(o, v) => {
  const b = parseBool(v);
  if (b === undefined) throw new Error("must be on or off");
  o[field] = b;
};

/** Keys of the `[Proxy]` section, canonical spelling → how to apply a value. */
const KEYS: Record<string, Setter> = {
  LogLevel: (o, v) => {
    const level = parseLogLevel(v);
    if (level === undefined) throw new Error(`must be one of ${LOG_LEVELS.join(", ")}`);
    o.logLevel = level;
  },
  LogFormat: (o, v) => {
    const f = v.toLowerCase();
    if (f !== "text" && f !== "json") throw new Error("must be text or json");
    o.logFormat = f;
  },
  FlowLog: boolSetter("flowLog"),
  Metrics: (o, v) => {
    o.metrics = v.toLowerCase() === "off" ? undefined : parseListenAddress(v);
  },
  MaxFlows: (o, v) => void (o.maxFlows = parseLimit(v)),
  MaxFlowsPerPeer: (o, v) => void (o.maxFlowsPerPeer = parseLimit(v)),
  NewFlowRate: (o, v) => void (o.newFlowRate = parseRate(v)),
  FlowBandwidth: (o, v) => void (o.flowBandwidth = parseBandwidth(v)),
  TcpConnectTimeout: durationSetter("tcpConnectTimeoutMs", 1, 300_000),
  AcceptBeforeDial: boolSetter("acceptBeforeDial"),
  UdpWorker: boolSetter("udpWorker"),
  DirectSend: boolSetter("directSend"),
  LongPathDirect: boolSetter("longPathDirect"),
  TcpTimestamps: boolSetter("tcpTimestamps"),
  UdpBackend: (o, v) => {
    const b = v.toLowerCase();
    if (b !== "auto" && b !== "deno" && b !== "node" && b !== "ffi") {
      throw new Error("must be auto, deno, node or ffi");
    }
    o.udpBackend = b;
  },
  TcpIdleTimeout: durationSetter("tcpIdleTimeoutMs", 1_000, 86_400_000),
  UdpIdleTimeout: durationSetter("udpIdleTimeoutMs", 1_000, 86_400_000),
  DrainTimeout: durationSetter("drainTimeoutMs", 0, 600_000),
  Allow: (o, v) => void o.rules.push(parseRule(`allow ${v}`)),
  Deny: (o, v) => void o.rules.push(parseRule(`deny ${v}`)),
  DnsResolver: boolSetter("dnsResolver"),
  DnsUpstream: (o, v) => void (o.dnsUpstream = parseDnsUpstream(v)),
  Endpoint: (o, v) => {
    const hp = parseHostPort(v);
    if (hp.port === 0) throw new Error("port must be 1-65535");
    o.endpoint = formatHostPort(hp.host, hp.port);
  },
  ClientDNS: (o, v) => {
    const list = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const item of list) {
      if (tryParseIp(item) === undefined) throw new Error(`'${item}' is not an IP address`);
    }
    o.clientDns = [...(o.clientDns ?? []), ...list];
  },
};

/** `10M`, `512K`, `1G`, a plain number of bytes/s, or `off`. */
function parseBandwidth(v: string): number | undefined {
  if (v.toLowerCase() === "off") return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:b?\/s)?$/i.exec(v.trim());
  if (!m) throw new Error("must be bytes per second like 512K, 10M, 1G, or off");
  const mult =
    { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  const n = Math.round(Number(m[1]) * mult);
  if (n < 1024) throw new Error("must be at least 1K");
  return n;
}

/** Keys whose values accumulate over repeated lines. */
const REPEATABLE = new Set(["Allow", "Deny", "ClientDNS"]);

/** The valid `[Proxy]` keys, canonical spelling. */
export const PROXY_KEYS: readonly string[] = Object.keys(KEYS);

function reasonOf(e: unknown): string {
  if (e instanceof IpParseError) return e.reason;
  if (e instanceof RuleSyntaxError || e instanceof DurationError || e instanceof Error) {
    return e.message;
  }
  return String(e);
}

function applyEntry(o: ProxyOptions, entry: RawEntry, seen: Map<string, number>): void {
  const key = PROXY_KEYS.find((k) => k.toLowerCase() === entry.key.toLowerCase());
  if (key === undefined) {
    const guess = closest(entry.key, PROXY_KEYS);
    throw new ConfigError(
      entry.line,
      `unknown key '${entry.key}' in [Proxy]${guess ? `; did you mean '${guess}'?` : ""}`,
    );
  }
  const first = seen.get(key);
  if (first !== undefined && !REPEATABLE.has(key)) {
    throw new ConfigError(entry.line, `duplicate ${key} (first set on line ${first})`);
  }
  seen.set(key, entry.line);
  if (entry.value === "") throw new ConfigError(entry.line, `${key} has no value`);
  try {
    (KEYS[key] as Setter)(o, entry.value);
  } catch (e) {
    throw new ConfigError(entry.line, `invalid ${key} '${entry.value}': ${reasonOf(e)}`);
  }
}

/** Fresh options with every default (arrays are new, so callers may push). */
export function defaultProxyOptions(): ProxyOptions {
  return { ...DEFAULT_PROXY_OPTIONS, rules: [] };
}

/**
 * Builds {@link ProxyOptions} from the raw `[Proxy]` sections of a parsed config (at most one).
 * Throws {@link ConfigError} naming the line of the first problem.
 */
export function parseProxySections(sections: readonly RawSection[]): ProxyOptions {
  const options = defaultProxyOptions();
  const proxy = sections.filter((s) => s.name.toLowerCase() === "proxy");
  if (proxy.length > 1) {
    const second = proxy[1] as RawSection;
    throw new ConfigError(
      second.line,
      `duplicate [Proxy] section (first on line ${proxy[0]?.line})`,
    );
  }
  const seen = new Map<string, number>();
  for (const entry of proxy[0]?.entries ?? []) applyEntry(options, entry, seen);
  return options;
}
