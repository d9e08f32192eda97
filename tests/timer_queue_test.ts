import assert from "node:assert/strict";
import { ManualClock } from "../src/clock.ts";
import { TimerQueue } from "../src/timer_queue.ts";

Deno.test("TimerQueue: fires in deadline order, equal deadlines in arming order", () => {
  const clock = new ManualClock();
  const q = new TimerQueue(clock);
  const fired: string[] = [];
  for (const [name, ms] of [["c", 30], ["a", 10], ["b1", 20], ["b2", 20], ["d", 40]] as const) {
    q.schedule(() => fired.push(name), ms);
  }
  clock.advance(19);
  assert.deepEqual(fired, ["a"]);
  clock.advance(1);
  assert.deepEqual(fired, ["a", "b1", "b2"]);
  clock.advance(100);
  assert.deepEqual(fired, ["a", "b1", "b2", "c", "d"]);
  assert.equal(q.size, 0);
  assert.equal(clock.pending, 0);
});

Deno.test("TimerQueue: many timers share one runtime timer, unref'd when the queue empties", () => {
  const clock = new ManualClock();
  const q = new TimerQueue(clock);
  q.hold(); // a netstack's lifetime
  const timers = [];
  // Later deadlines (a flow's timers, armed one after another) never touch the runtime timer.
  for (let i = 0; i < 1000; i++) timers.push(q.schedule(() => assert.fail("cancelled"), 5000 + i));
  assert.equal(clock.pending, 1);
  // An earlier one re-arms it (still one).
  let early = 0;
  q.schedule(() => early++, 10);
  assert.equal(clock.pending, 1);
  clock.advance(10);
  assert.equal(early, 1);
  assert.equal(clock.pending, 1); // re-armed for the 5 s ones
  // Cancelling in any order keeps the heap consistent; after the last cancel the runtime timer
  // no longer keeps anything alive.
  for (let i = 0; i < 1000; i += 2) q.cancel(timers[i]);
  for (let i = 999; i > 0; i -= 2) q.cancel(timers[i]);
  assert.equal(q.size, 0);
  assert.equal(clock.alive, 0);
  // The next flow's timer (a later deadline) reuses it instead of arming another.
  const next = q.schedule(() => assert.fail("cancelled"), 6000);
  assert.equal(clock.pending, 1);
  assert.equal(clock.alive, 1);
  q.cancel(next);
  assert.equal(clock.alive, 0);
  clock.advance(10_000); // it fires into an empty queue and is not re-armed
  assert.equal(clock.pending, 0);
  // Once the last holder is gone an emptied queue clears its runtime timer at once.
  q.cancel(q.schedule(() => {}, 100));
  assert.equal(clock.pending, 1);
  q.release();
  assert.equal(clock.pending, 0);
  q.cancel(q.schedule(() => {}, 100));
  assert.equal(clock.pending, 0);
});

Deno.test("TimerQueue: without unref support the runtime timer is cleared when empty", () => {
  const manual = new ManualClock();
  const clock = {
    now: () => manual.now(),
    setTimeout: (fn: () => void, ms: number) => manual.setTimeout(fn, ms),
    clearTimeout: (h: number) => manual.clearTimeout(h),
  };
  const q = new TimerQueue(clock);
  q.hold(); // held, yet without unref the timer must go
  const t = q.schedule(() => {}, 100);
  assert.equal(manual.pending, 1);
  q.cancel(t);
  assert.equal(manual.pending, 0);
  let fired = 0;
  q.schedule(() => fired++, 5);
  manual.advance(5);
  assert.equal(fired, 1);
});

Deno.test("TimerQueue: cancel after firing and twice is harmless; random order stays sorted", () => {
  const clock = new ManualClock();
  const q = new TimerQueue(clock);
  const t = q.schedule(() => {}, 1);
  clock.advance(1);
  q.cancel(t);
  q.cancel(t);
  q.cancel(undefined);
  // A seeded shuffle of deadlines and cancellations: what fires is what was not cancelled, in order.
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const fired: number[] = [];
  const want: number[] = [];
  const pending = [];
  for (let i = 0; i < 500; i++) {
    const ms = Math.floor(rand() * 1000);
    pending.push({ ms, t: q.schedule(() => fired.push(ms), ms) });
  }
  for (const p of pending) {
    if (rand() < 0.4) q.cancel(p.t);
    else want.push(p.ms);
  }
  clock.advance(1000);
  assert.deepEqual(fired, want.sort((a, b) => a - b));
  assert.equal(clock.pending, 0);
});

Deno.test("TimerQueue: a callback may schedule and cancel; clear() drops everything", () => {
  const clock = new ManualClock();
  const q = new TimerQueue(clock);
  const fired: string[] = [];
  q.schedule(() => {
    fired.push("first");
    q.cancel(victim);
    q.schedule(() => fired.push("chained"), 0);
  }, 5);
  const victim = q.schedule(() => fired.push("victim"), 5); // armed second: fires second
  clock.advance(5);
  assert.deepEqual(fired, ["first", "chained"]);
  q.schedule(() => fired.push("never"), 1);
  q.schedule(() => fired.push("never"), 2);
  q.clear();
  assert.equal(clock.pending, 0);
  clock.advance(10);
  assert.deepEqual(fired, ["first", "chained"]);
});

Deno.test("TimerQueue: NaN and negative delays mean now; Infinity never fires", () => {
  const clock = new ManualClock();
  const q = new TimerQueue(clock);
  const fired: string[] = [];
  q.schedule(() => fired.push("never"), Infinity);
  q.schedule(() => fired.push("nan"), NaN);
  q.schedule(() => fired.push("negative"), -5);
  q.schedule(() => fired.push("ten"), 10);
  clock.advance(0);
  assert.deepEqual(fired, ["nan", "negative"]);
  clock.advance(1e12);
  assert.deepEqual(fired, ["nan", "negative", "ten"]);
  assert.equal(q.size, 1);
  q.clear();
});
