import assert from "node:assert/strict";
import { LoadWindow } from "../../src/udp_worker/load_window.ts";

Deno.test("load window: quiet below the bound over this window and the last, busy at it", () => {
  const w = new LoadWindow(10, 100, 0);
  w.ops = 99;
  assert.equal(w.quiet(5), true);
  w.ops++;
  assert.equal(w.quiet(6), false);
  // The next window starts with the last one's 100 behind it: still busy until it ends.
  assert.equal(w.quiet(10), false);
  assert.equal(w.quiet(19), false);
  // A window with nothing counted: quiet again.
  assert.equal(w.quiet(20), true);
});

Deno.test("load window: a long window nobody asked about counts at its rate", () => {
  const busy = new LoadWindow(10, 100, 0);
  busy.ops = 2_000; // 2,000 in 100 ms: 200 a window
  assert.equal(busy.quiet(100), false);
  const idle = new LoadWindow(10, 100, 0);
  idle.ops = 500; // 500 in 1 s: 5 a window
  assert.equal(idle.quiet(1_000), true);
  // and what comes after the roll adds to it
  idle.ops += 95;
  assert.equal(idle.quiet(1_001), false);
});
