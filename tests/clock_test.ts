import assert from "node:assert/strict";
import { ManualClock, Timer } from "../src/clock.ts";

Deno.test("Timer: mod/del/isPending, re-arming later does not fire early", () => {
  const clock = new ManualClock();
  let fired = 0;
  const t = new Timer(clock, () => fired++);
  t.mod(100);
  assert.equal(t.isPending, true);
  clock.advance(50);
  t.mod(100); // now due at 150
  clock.advance(60); // 110: the first runtime timer fires, re-arms for the rest
  assert.equal(fired, 0);
  assert.equal(t.isPending, true);
  clock.advance(40); // 150
  assert.equal(fired, 1);
  assert.equal(t.isPending, false);
});

Deno.test("Timer: del cancels; mod earlier reschedules; stop clears the runtime timer", () => {
  const clock = new ManualClock();
  let fired = 0;
  const t = new Timer(clock, () => fired++);
  t.mod(100);
  t.del();
  clock.advance(200);
  assert.equal(fired, 0);
  t.mod(1000);
  t.mod(10);
  clock.advance(10);
  assert.equal(fired, 1);
  t.mod(500);
  t.stop();
  assert.equal(clock.pending, 0);
  clock.advance(1000);
  assert.equal(fired, 1);
});

Deno.test("Timer: a thousand re-arms schedule one runtime timer", () => {
  const clock = new ManualClock();
  const t = new Timer(clock, () => {});
  for (let i = 0; i < 1000; i++) {
    t.del();
    t.mod(10_000);
    clock.advance(1);
  }
  assert.equal(clock.pending, 1);
});
