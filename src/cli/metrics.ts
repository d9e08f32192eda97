/**
 * Prometheus text exposition (format 0.0.4) of a running server's figures, and a tiny HTTP server
 * for it (`--metrics 127.0.0.1:9090` → `GET /metrics`). Figures are read from `stats()` at scrape
 * time, so the data path keeps plain counters and pays nothing for metrics.
 *
 * Written by hand rather than with a client library: the format is a dozen lines of rules, and a
 * library would want its own registry of collectors mirroring counters we already keep.
 *
 * @module
 */
import type { ServerStats } from "../server.ts";
import { encodeKey } from "../wireguard/keys.ts";
import type { ListenAddress } from "./proxy_section.ts";

/** What the exposition reads: a running proxy's stats snapshot. */
export type MetricsStats = ServerStats;

/** Escapes a label value: backslash, double quote and newline (exposition format rules). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

class Exposition {
  readonly #lines: string[] = [];
  family(
    name: string,
    type: "counter" | "gauge",
    help: string,
  ): (labels: Record<string, string> | undefined, value: number) => void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return (labels, value) => {
      const entries = Object.entries(labels ?? {});
      const l = entries.length === 0
        ? ""
        : `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
      this.#lines.push(`${name}${l} ${formatValue(value)}`);
    };
  }
  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function byLabel(
  ex: Exposition,
  name: string,
  type: "counter" | "gauge",
  help: string,
  label: string,
  values: Record<string, number> | undefined,
): void {
  if (values === undefined) return;
  const put = ex.family(name, type, help);
  for (const [k, v] of Object.entries(values)) put({ [label]: k }, v);
}

/** Renders the exposition text for one scrape. */
export function renderMetrics(stats: MetricsStats): string {
  const ex = new Exposition();
  ex.family("newt_up", "gauge", "1 while the proxy runs.")(undefined, 1);
  ex.family("newt_listen_port", "gauge", "UDP port WireGuard listens on.")(
    undefined,
    stats.listenPort,
  );
  ex.family("newt_peers", "gauge", "Configured WireGuard peers.")(undefined, stats.peers.length);
  type PeerFigures = MetricsStats["peers"][number];
  const perPeer: Array<[string, "counter" | "gauge", string, (p: PeerFigures) => number]> = [
    [
      "newt_peer_last_handshake_seconds",
      "gauge",
      "Unix time of the peer's last completed handshake (0 = never).",
      (p) => p.lastHandshake / 1000,
    ],
    ["newt_peer_receive_bytes_total", "counter", "Bytes received from the peer.", (p) => p.rxBytes],
    [
      "newt_peer_receive_messages_total",
      "counter",
      "Transport messages received from the peer (authenticated, keepalives included).",
      (p) => p.rxMessages,
    ],
    [
      "newt_peer_receive_gaps_total",
      "counter",
      "Messages the peer numbered that had not arrived when a later one did; minus " +
      "newt_peer_receive_late_total, those lost on the way in (path or this host's socket buffer).",
      (p) => p.rxGaps,
    ],
    [
      "newt_peer_receive_late_total",
      "counter",
      "Messages that arrived after a later one (each filled a counted gap).",
      (p) => p.rxLate,
    ],
    ["newt_peer_transmit_bytes_total", "counter", "Bytes sent to the peer.", (p) => p.txBytes],
  ];
  const keys = stats.peers.map((p) => ({ public_key: encodeKey(p.publicKey) }));
  for (const [name, type, help, value] of perPeer) {
    const put = ex.family(name, type, help);
    stats.peers.forEach((p, i) => put(keys[i], value(p)));
  }
  const d = stats.device;
  ex.family("newt_handshakes_total", "counter", "Handshakes completed.")(undefined, d.handshakes);
  ex.family("newt_datagrams_received_total", "counter", "UDP datagrams received.")(
    undefined,
    d.datagramsReceived,
  );
  ex.family("newt_packets_received_total", "counter", "IP packets from peers into the tunnel.")(
    undefined,
    d.packetsReceived,
  );
  ex.family("newt_packets_sent_total", "counter", "IP packets from the tunnel to peers.")(
    undefined,
    d.packetsSent,
  );
  ex.family("newt_keepalives_received_total", "counter", "Keepalives received.")(
    undefined,
    d.keepalivesReceived,
  );
  byLabel(
    ex,
    "newt_drops_total",
    "counter",
    "Dropped datagrams and packets by reason.",
    "reason",
    stats.drops,
  );
  const sock = stats.socket;
  byLabel(
    ex,
    "newt_socket_datagrams_total",
    "counter",
    "WireGuard socket datagrams: in = handed to the device, out = sends asked for.",
    "direction",
    { in: sock.received, out: sock.sent },
  );
  byLabel(
    ex,
    "newt_socket_direct_datagrams_total",
    "counter",
    "Of those, the datagrams the main thread received or sent on its own socket, not the UDP Worker.",
    "direction",
    { in: sock.receivedDirect, out: sock.sentDirect },
  );
  ex.family(
    "newt_socket_long_paths_total",
    "counter",
    "Times a flow on a long path began sending in bulk, paced: the main thread then sends on its own socket.",
  )({}, sock.longPaths);
  byLabel(
    ex,
    "newt_socket_drops_total",
    "counter",
    "WireGuard socket datagrams dropped between the kernel and the device, by reason.",
    "reason",
    {
      "receive-queue-full": sock.receiveQueueFull,
      "send-queue-full": sock.sendQueueFull,
      "send-failed": sock.sendFailed,
      "truncated": sock.truncated,
    },
  );
  const protos = [["tcp", stats.tcp], ["udp", stats.udp]] as const;
  const live = ex.family("newt_flows_active", "gauge", "Open flows (UDP: sessions) by protocol.");
  for (const [proto, c] of protos) live({ proto }, c.live);
  const total = ex.family("newt_flows_opened_total", "counter", "Flows opened by protocol.");
  for (const [proto, c] of protos) total({ proto }, c.total);
  const bytes = ex.family(
    "newt_flow_bytes_total",
    "counter",
    "Bytes relayed: up = peer to target, down = target to peer.",
  );
  for (const [proto, c] of protos) {
    bytes({ proto, direction: "up" }, c.bytesUp);
    bytes({ proto, direction: "down" }, c.bytesDown);
  }
  const refused = ex.family("newt_flows_refused_total", "counter", "Flows refused by reason.");
  for (const [proto, c] of protos) {
    for (const [reason, n] of Object.entries(c.refused)) refused({ proto, reason }, n);
  }
  const dropped = ex.family(
    "newt_flow_drops_total",
    "counter",
    "Flow datagrams dropped by reason.",
  );
  for (const [proto, c] of protos) {
    for (const [reason, n] of Object.entries(c.dropped)) dropped({ proto, reason }, n);
  }
  const peerFlows = ex.family("newt_peer_flows_active", "gauge", "Open flows per peer.");
  for (const p of stats.peers) {
    peerFlows({ public_key: encodeKey(p.publicKey) }, p.flows?.live ?? 0);
  }
  const dns = ex.family("newt_dns_counter", "gauge", "Built-in DNS resolver counters by name.");
  for (const [name, n] of Object.entries(stats.dns ?? {})) {
    if (typeof n === "number") dns({ name }, n);
  }
  const stack = ex.family("newt_netstack_counter", "gauge", "Netstack counters by name.");
  for (const [name, n] of Object.entries(stats.netstack)) {
    if (typeof n === "number") stack({ name }, n);
  }
  const mem = Deno.memoryUsage();
  ex.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")(
    undefined,
    mem.rss,
  );
  ex.family("newt_heap_used_bytes", "gauge", "V8 heap in use, bytes.")(undefined, mem.heapUsed);
  return ex.text();
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound address (port resolved when 0 was asked). */
  readonly addr: ListenAddress;
  /** Stops serving. */
  close(): Promise<void>;
}

/** Content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Serves `GET /metrics` (and `/`, a pointer to it) on `listen`; the body is `render()` per scrape. */
export function serveMetrics(listen: ListenAddress, render: () => string): Promise<MetricsServer> {
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    try {
      server = Deno.serve({
        hostname: listen.hostname,
        port: listen.port,
        onListen: (addr) => {
          resolve({
            addr: { hostname: addr.hostname, port: addr.port },
            close: async () => {
              await server?.shutdown();
            },
          });
        },
      }, (req) => {
        const path = new URL(req.url).pathname;
        if (req.method !== "GET" && req.method !== "HEAD") {
          return new Response("method not allowed\n", { status: 405 });
        }
        if (path === "/metrics") {
          try {
            return new Response(render(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
          } catch (e) {
            return new Response(`unavailable: ${e instanceof Error ? e.message : e}\n`, {
              status: 503,
            });
          }
        }
        if (path === "/") return new Response("newt-proxy: metrics at /metrics\n");
        return new Response("not found\n", { status: 404 });
      });
    } catch (e) {
      reject(e);
    }
  });
}
