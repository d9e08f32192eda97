import assert from "node:assert/strict";
import {
  METRICS_CONTENT_TYPE,
  type MetricsStats,
  renderMetrics,
  serveMetrics,
} from "../../src/cli/metrics.ts";
import {
  ExpositionSyntaxError,
  parseExposition,
  sampleValue,
} from "../../src/cli/prometheus_text.ts";
import { parseKey } from "../../src/wireguard/key_text.ts";
import { livePeerLines } from "../../src/cli/show_command.ts";

const KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

function counters(live: number, refused: Record<string, number> = {}) {
  return { live, total: live + 7, bytesUp: 100, bytesDown: 200, refused, dropped: {} };
}

function stats(): MetricsStats {
  return {
    listenPort: 51820,
    peers: [{
      publicKey: parseKey(KEY),
      shortKey: KEY.slice(0, 8),
      endpoint: "192.0.2.1:4000",
      lastHandshake: 1_700_000_000_500,
      rxBytes: 1234,
      rxMessages: 900,
      rxLost: 95,
      rxGaps: 100,
      rxLate: 5,
      txBytes: 5678,
      allowedIPs: ["10.88.0.2/32"],
      flows: counters(3),
    }],
    device: {
      packetsReceived: 10,
      packetsSent: 11,
      keepalivesReceived: 2,
      handshakes: 3,
      datagramsReceived: 40,
    },
    drops: { "no-route": 4, 'we"ird\\reason': 1 },
    tcp: counters(2, { "denied-rule": 5 }),
    udp: counters(1),
    netstack: { tcpSegmentsIn: 9 },
    dns: { queries: 6 },
    socket: {
      backend: "deno",
      worker: true,
      received: 40,
      sent: 41,
      sentDirect: 16,
      longPaths: 3,
      receivedDirect: 17,
      receiveQueueFull: 12,
      sendQueueFull: 13,
      sendFailed: 14,
      truncated: 15,
      lastSendError: "send ring full",
    },
  };
}

Deno.test("renderMetrics: valid exposition with per-peer, drop and flow series", () => {
  const text = renderMetrics(stats());
  const scrape = parseExposition(text);
  assert.equal(sampleValue(scrape, "newt_up"), 1);
  assert.equal(sampleValue(scrape, "newt_peers"), 1);
  assert.equal(
    sampleValue(scrape, "newt_peer_last_handshake_seconds", { public_key: KEY }),
    1_700_000_000.5,
  );
  assert.equal(sampleValue(scrape, "newt_peer_receive_bytes_total", { public_key: KEY }), 1234);
  assert.equal(sampleValue(scrape, "newt_peer_transmit_bytes_total", { public_key: KEY }), 5678);
  assert.equal(sampleValue(scrape, "newt_peer_receive_messages_total", { public_key: KEY }), 900);
  assert.equal(sampleValue(scrape, "newt_peer_receive_gaps_total", { public_key: KEY }), 100);
  assert.equal(sampleValue(scrape, "newt_peer_receive_late_total", { public_key: KEY }), 5);
  assert.equal(sampleValue(scrape, "newt_handshakes_total"), 3);
  assert.equal(sampleValue(scrape, "newt_drops_total", { reason: "no-route" }), 4);
  assert.equal(sampleValue(scrape, "newt_drops_total", { reason: 'we"ird\\reason' }), 1);
  assert.equal(sampleValue(scrape, "newt_flows_active", { proto: "udp" }), 1);
  assert.equal(
    sampleValue(scrape, "newt_flows_refused_total", { proto: "tcp", reason: "denied-rule" }),
    5,
  );
  assert.equal(sampleValue(scrape, "newt_flows_opened_total", { proto: "tcp" }), 9);
  assert.equal(
    sampleValue(scrape, "newt_flow_bytes_total", { proto: "udp", direction: "down" }),
    200,
  );
  assert.equal(sampleValue(scrape, "newt_peer_flows_active", { public_key: KEY }), 3);
  assert.equal(sampleValue(scrape, "newt_netstack_counter", { name: "tcpSegmentsIn" }), 9);
  assert.equal(sampleValue(scrape, "newt_dns_counter", { name: "queries" }), 6);
  assert.equal(sampleValue(scrape, "newt_socket_datagrams_total", { direction: "out" }), 41);
  assert.equal(
    sampleValue(scrape, "newt_socket_direct_datagrams_total", { direction: "out" }),
    16,
  );
  assert.equal(
    sampleValue(scrape, "newt_socket_direct_datagrams_total", { direction: "in" }),
    17,
  );
  assert.equal(sampleValue(scrape, "newt_socket_long_paths_total"), 3);
  assert.equal(
    sampleValue(scrape, "newt_socket_drops_total", { reason: "receive-queue-full" }),
    12,
  );
  assert.equal(sampleValue(scrape, "newt_socket_drops_total", { reason: "send-queue-full" }), 13);
  assert.equal(sampleValue(scrape, "newt_socket_drops_total", { reason: "send-failed" }), 14);
  assert.equal(sampleValue(scrape, "newt_socket_drops_total", { reason: "truncated" }), 15);
  assert.equal(scrape.types.get("newt_handshakes_total"), "counter");
  assert.equal(scrape.types.get("newt_peers"), "gauge");
  // Every sample belongs to a declared family, and counters end in _total.
  for (const s of scrape.samples) {
    const type = scrape.types.get(s.name);
    assert.ok(type, s.name);
    if (type === "counter") assert.match(s.name, /_total$/);
  }
  assert.ok(!text.includes("192.0.2.1"), "endpoints (personal data) are not exported");
});

Deno.test("parseExposition rejects malformed lines", () => {
  assert.throws(() => parseExposition("ok 1\nnot a sample line here\n"), ExpositionSyntaxError);
  assert.throws(() => parseExposition('m{a="1" 2\n'), ExpositionSyntaxError);
  assert.equal(parseExposition('m{a="x\\ny"} +Inf\n').samples[0]?.labels["a"], "x\ny");
});

Deno.test("serveMetrics: scraped over loopback, 404 elsewhere", async () => {
  const server = await serveMetrics(
    { hostname: "127.0.0.1", port: 0 },
    () => renderMetrics(stats()),
  );
  try {
    assert.ok(server.addr.port > 0);
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
    assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
    const scrape = parseExposition(await res.text());
    assert.equal(sampleValue(scrape, "newt_datagrams_received_total"), 40);
    const missing = await fetch(`http://127.0.0.1:${server.addr.port}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("show's peer lines read handshake, transfer and inbound loss off the metrics", () => {
  const lines = livePeerLines(parseExposition(renderMetrics(stats())), KEY, 1_700_000_060.5);
  assert.deepEqual(lines, [
    "  latest handshake: 1 minute ago",
    "  transfer: 1.21 KiB received, 5.54 KiB sent",
    // 100 gaps − 5 late = 95 never arrived, of 900 + 95 sent
    "  inbound loss: 95 of 995 messages (9.5%; path or this host's socket)",
  ]);
  const quiet = stats();
  quiet.peers[0]!.rxGaps = 5; // every gap filled late: nothing lost, no line
  assert.equal(livePeerLines(parseExposition(renderMetrics(quiet)), KEY, 0).length, 2);
  assert.deepEqual(livePeerLines(parseExposition(renderMetrics(stats())), "other", 0), [
    "  (not in the running instance: send it SIGHUP)",
  ]);
});
