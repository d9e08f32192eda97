import assert from "node:assert/strict";
import {
  MAX_COUNTER,
  readCounterLE,
  REPLAY_WINDOW_SIZE,
  ReplayWindow,
} from "../../src/wireguard/replay.ts";

Deno.test("window is at least 2048 messages", () => {
  assert.equal(REPLAY_WINDOW_SIZE, 8160);
  assert.ok(REPLAY_WINDOW_SIZE >= 2048);
});

Deno.test("counter 0, in order, duplicates", () => {
  const w = new ReplayWindow();
  assert.equal(w.validate(0), true);
  assert.equal(w.validate(0), false);
  for (let i = 1; i < 10000; i++) assert.equal(w.validate(i), true, `${i}`);
  for (let i = 9990; i < 10000; i++) assert.equal(w.validate(i), false, `dup ${i}`);
  assert.equal(w.last, 9999);
});

Deno.test("out of order within the window, each accepted once", () => {
  const w = new ReplayWindow();
  assert.ok(w.validate(100));
  for (const c of [99, 50, 0, 1, 98]) assert.ok(w.validate(c), `${c}`);
  for (const c of [99, 50, 0, 1, 98, 100]) assert.ok(!w.validate(c), `replayed ${c}`);
  assert.ok(w.validate(101));
  assert.ok(w.validate(97));
});

Deno.test("edge at exactly the window size", () => {
  const w = new ReplayWindow();
  const head = 20000;
  assert.ok(w.validate(head));
  assert.ok(!w.validate(head - REPLAY_WINDOW_SIZE - 1), "one past the window");
  assert.ok(w.validate(head - REPLAY_WINDOW_SIZE), "exactly the window");
  assert.ok(!w.validate(head - REPLAY_WINDOW_SIZE), "and only once");
  assert.ok(w.validate(head - REPLAY_WINDOW_SIZE + 1));
  // Every counter inside the window is accepted exactly once.
  const fresh = new ReplayWindow();
  assert.ok(fresh.validate(head));
  for (let c = head - 1; c >= head - REPLAY_WINDOW_SIZE; c--) assert.ok(fresh.validate(c), `${c}`);
  for (let c = head; c >= head - REPLAY_WINDOW_SIZE - 5; c--) assert.ok(!fresh.validate(c), `${c}`);
});

Deno.test("too old", () => {
  const w = new ReplayWindow();
  assert.ok(w.validate(1_000_000));
  assert.ok(!w.validate(0));
  assert.ok(!w.validate(1_000_000 - REPLAY_WINDOW_SIZE - 1000));
});

Deno.test("jumps larger than the window clear old bits", () => {
  const w = new ReplayWindow();
  for (let i = 0; i < 64; i++) assert.ok(w.validate(i));
  // Jump so far that the ring wraps: the slots once used by 0..63 are reused and must be clear.
  const far = 8192 * 3 + 5;
  assert.ok(w.validate(far));
  assert.ok(w.validate(far - 5), "same ring slot as counter 0, different counter");
  for (let c = far - 64; c < far - 5; c++) assert.ok(w.validate(c), `${c}`);
  // Jump by exactly a ring's worth.
  const w2 = new ReplayWindow();
  assert.ok(w2.validate(40));
  assert.ok(w2.validate(40 + 256 * 32));
  assert.ok(!w2.validate(40), "old counter now out of window");
  assert.ok(w2.validate(40 + 256 * 32 - 1));
  // Jumps of one block less than the ring keep the newest words.
  const w3 = new ReplayWindow();
  assert.ok(w3.validate(1000));
  assert.ok(w3.validate(1000 + REPLAY_WINDOW_SIZE));
  assert.ok(!w3.validate(1000), "still in window, already seen");
  assert.ok(w3.validate(1001));
});

Deno.test("reference model: random mix against a set", () => {
  let s = 99;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const w = new ReplayWindow();
  const seen = new Set<number>();
  let last = 0;
  for (let i = 0; i < 200_000; i++) {
    const r = rnd() % 100;
    const c = r < 70
      ? last + (rnd() % 40)
      : r < 95
      ? Math.max(0, last - (rnd() % (REPLAY_WINDOW_SIZE + 200)))
      : last + (rnd() % 20000);
    const expect = !seen.has(c) && (c > last || last - c <= REPLAY_WINDOW_SIZE);
    assert.equal(w.validate(c), expect, `step ${i} counter ${c} last ${last}`);
    if (expect) {
      seen.add(c);
      if (c > last) last = c;
    }
  }
});

Deno.test("invalid counters are rejected, limits near 2^53", () => {
  const w = new ReplayWindow();
  for (const c of [-1, 1.5, NaN, Infinity, MAX_COUNTER + 1, 2 ** 60]) {
    assert.equal(w.validate(c), false, String(c));
  }
  assert.equal(w.last, 0);
  assert.ok(w.validate(MAX_COUNTER - 10));
  assert.ok(w.validate(MAX_COUNTER));
  assert.ok(!w.validate(MAX_COUNTER));
  assert.ok(w.validate(MAX_COUNTER - 1));
  assert.ok(!w.validate(MAX_COUNTER - 10));
  w.reset();
  assert.equal(w.last, 0);
  assert.ok(w.validate(0));
  assert.ok(w.validate(5));
});

Deno.test("readCounterLE", () => {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(2, 0x0123456789abn, true);
  assert.equal(readCounterLE(b, 2), 0x0123456789ab);
  dv.setBigUint64(2, BigInt(MAX_COUNTER), true);
  assert.equal(readCounterLE(b, 2), MAX_COUNTER);
  dv.setBigUint64(2, BigInt(MAX_COUNTER) + 1n, true);
  assert.equal(readCounterLE(b, 2), -1);
  dv.setBigUint64(2, 0xffffffffffffffffn, true);
  assert.equal(readCounterLE(b, 2), -1);
  dv.setBigUint64(2, 0xffffffffn, true);
  assert.equal(readCounterLE(b, 2), 0xffffffff);
});

Deno.test("replay: next is one past the highest accepted counter", () => {
  const w = new ReplayWindow();
  assert.equal(w.next, 0);
  assert.ok(w.validate(0));
  assert.equal(w.next, 1);
  assert.ok(w.validate(7));
  assert.equal(w.next, 8);
  assert.ok(w.validate(3)); // late: next stays
  assert.equal(w.next, 8);
  assert.ok(!w.validate(7)); // replay: nothing changes
  assert.equal(w.next, 8);
  w.reset();
  assert.equal(w.next, 0);
});
