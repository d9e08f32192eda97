import assert from "node:assert/strict";
import { measureWakes, quantile } from "../../bench/thread_wake_bench.ts";

Deno.test("bench quantile: median and 90th percentile of unsorted samples; NaN when empty", () => {
  const xs = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
  assert.equal(quantile(xs, 0.5), 6);
  assert.equal(quantile(xs, 0.9), 10);
  assert.equal(quantile([3], 0.9), 3);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("bench thread wake-ups: every case wakes the sleeper each round and times it", async () => {
  const rows = await measureWakes(10, 1);
  assert.deepEqual(rows.map((r) => r.name), [
    "main → Worker blocked in Atomics.wait",
    "main → Worker in its event loop (waitAsync)",
    "Worker → main, the Worker then blocks",
    "Worker → main, the Worker then returns to its loop",
  ]);
  for (const r of rows) {
    for (const v of [...r.notifyUs, ...r.latencyUs]) {
      assert.ok(Number.isFinite(v) && v >= 0, `${r.name}: ${v}`);
    }
    // a wake-up is seen after its notify, within the case's own deadline (bounded by 1 s here)
    assert.ok(r.latencyUs[1] < 1_000_000, `${r.name}: ${r.latencyUs[1]} µs`);
  }
});
