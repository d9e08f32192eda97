import assert from "node:assert/strict";
import { measureProxyConnections, summarizeGcTrace } from "../../bench/proxy_conn_bench.ts";

const gc = (ms: number, kind: string, pause: number, promoted: number, end: number) =>
  `[1:0x1:0]  ${ms} ms: GC: ${JSON.stringify({ gc: kind, pause, promoted, end_object_size: end })}`;

Deno.test("bench proxy connections: the trace's timed part is summed per connection", () => {
  const stdout = [
    gc(90, "s", 9, 9_000, 1), // before the timed part: not counted
    gc(110, "s", 0.2, 1_000, 10_000),
    gc(120, "mc", 1.5, 0, 8_000),
    gc(130, "s", 0.4, 3_000, 12_000),
    `[1:0x1:0]  140 ms: GC: {"gc":"s","pau`, // cut by other output: skipped
    gc(150, "s", 0.3, 2_000, 11_000),
    gc(170, "s", 9, 9_000, 1), // after it
  ].join("\n");
  const stderr = `Check file\n${JSON.stringify({ connections: 100, startMs: 100, endMs: 160 })}\n`;
  const r = summarizeGcTrace(stdout, stderr);
  assert.equal(r.connections, 100);
  assert.equal(r.ms, 60);
  assert.equal(r.youngCollections, 3);
  assert.equal(r.youngPauseMs, 0.3);
  assert.equal(r.fullCollections, 1);
  assert.equal(r.promotedPerConnection, 60);
  assert.equal(r.oldGrowthPerConnection, 20); // +2,000 between the first two, then it fell
  assert.throws(() => summarizeGcTrace(stdout, "no report"), /no timed part/);
});

Deno.test("bench proxy connections: a short run proxies every connection and reads the trace", async () => {
  const r = await measureProxyConnections(300);
  assert.equal(r.connections, 300);
  assert.ok(r.ms > 0 && Number.isFinite(r.ms));
  assert.ok(r.youngCollections >= 0 && r.fullCollections >= 0);
  assert.ok(r.promotedPerConnection >= 0 && Number.isFinite(r.promotedPerConnection));
});

Deno.test("bench proxy connections: flows once held open together leave no cost to later connections", async () => {
  // Run with the proxy's V8 flags (bench/v8_flags.ts). With V8's allocation-site pretenuring, the
  // sites of 1,000 long-lived flows stay "tenured" and each later connection promoted ~2.7 KB to
  // the old generation (~0.1 KB on a fresh process).
  const r = await measureProxyConnections(3_000, 1_000);
  assert.equal(r.connections, 3_000);
  assert.ok(r.youngCollections > 10, `${r.youngCollections} young collections: too few to judge`);
  assert.ok(
    r.promotedPerConnection < 1_000,
    `${r.promotedPerConnection.toFixed(0)} B promoted per connection after 1,000 idle flows`,
  );
});
