import assert from "node:assert/strict";
import { LoadWindow } from "../../src/udp_worker/load_window.ts";

Deno.test("load window: this window and the last count, an older one does not", () => {
  const w = new LoadWindow(10, 0);
  w.count = 99;
  assert.equal(w.load(5), 99);
  w.count++;
  // The next window starts with the last one's 100 behind it until it ends.
  assert.equal(w.load(10), 100);
  w.count += 3;
  assert.equal(w.load(19), 103);
  // A window with nothing counted: only it and the one before.
  assert.equal(w.load(20), 3);
  assert.equal(w.load(30), 0);
});

Deno.test("load window: a long window nobody asked about counts at its rate", () => {
  const busy = new LoadWindow(10, 0);
  busy.count = 2_000; // 2,000 in 100 ms: 200 a window
  assert.equal(busy.load(100), 200);
  const idle = new LoadWindow(10, 0);
  idle.count = 500; // 500 in 1 s: 5 a window
  assert.equal(idle.load(1_000), 5);
  // and what comes after the roll adds to it
  idle.count += 95;
  assert.equal(idle.load(1_001), 100);
});

Deno.test("load window: restart forgets what was counted, rolled or not", () => {
  const w = new LoadWindow(10, 0);
  w.count = 800_000; // a transfer's bytes, never asked about
  w.restart(10_000);
  assert.equal(w.load(10_001), 0);
  w.count += 1_000;
  assert.equal(w.load(10_005), 1_000);
  // and it rolls from the restart as before
  assert.equal(w.load(10_010), 1_000);
});
