import assert from "node:assert/strict";
import {
  DatagramRing,
  MIN_RING_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_META_WORDS,
  ringCapacity,
} from "../../src/udp_worker/ring.ts";

const ADDR = new Int32Array([0x0100007f, 0, 0, 0]);

/** Deterministic xorshift32, so a failure repeats. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

Deno.test("ring: capacity rounds up to a power of two within bounds", () => {
  assert.equal(ringCapacity(0), MIN_RING_BYTES);
  assert.equal(ringCapacity(1025), 2048);
  assert.equal(ringCapacity(4096), 4096);
  assert.throws(() => new DatagramRing(new SharedArrayBuffer(256 + 3000)), RangeError);
});

Deno.test("ring: header words and payload survive, FIFO order", () => {
  const ring = DatagramRing.create(4096);
  const peer = new DatagramRing(ring.buffer); // the other thread's view
  const addr = new Int32Array([1, 2, 3, 4]);
  assert.ok(ring.tryPush(new Uint8Array([9, 8, 7]), 51820, 6, addr));
  assert.ok(ring.tryPush(new Uint8Array([5]), 53, 4, ADDR));
  const meta = new Int32Array(RECORD_META_WORDS);
  const buf = new Uint8Array(16);
  assert.equal(peer.shiftInto(buf, meta), 3);
  assert.deepEqual([...buf.subarray(0, 3)], [9, 8, 7]);
  assert.deepEqual([...meta], [3, 51820 | (6 << 16), 1, 2, 3, 4]);
  assert.equal(peer.shiftInto(buf, meta), 1);
  assert.equal(buf[0], 5);
  assert.equal(meta[1], 53 | (4 << 16));
  assert.equal(peer.shiftInto(buf, meta), -1);
});

Deno.test("ring: a short buffer gets the datagram cut, the full length is reported", () => {
  const ring = DatagramRing.create(4096);
  ring.tryPush(new Uint8Array(100).fill(1), 1, 4, ADDR);
  const buf = new Uint8Array(10);
  assert.equal(ring.shiftInto(buf, new Int32Array(RECORD_META_WORDS)), 100);
  assert.deepEqual([...buf], new Array(10).fill(1));
  assert.equal(ring.shiftInto(buf, new Int32Array(RECORD_META_WORDS)), -1);
});

Deno.test("ring: full ring and oversized datagrams drop and count, never block", () => {
  const ring = DatagramRing.create(1024);
  let pushed = 0;
  for (let i = 0; i < 100; i++) if (ring.tryPush(new Uint8Array(100), 1, 4, ADDR)) pushed++;
  const per = RECORD_HEADER_BYTES + 100;
  assert.equal(pushed, Math.floor(1024 / per));
  assert.equal(ring.dropped, 100 - pushed);
  assert.equal(ring.tryPush(new Uint8Array(2000), 1, 4, ADDR), false);
  assert.equal(ring.dropped, 101 - pushed);
  // Space comes back as the consumer takes.
  ring.shiftInto(new Uint8Array(200), new Int32Array(RECORD_META_WORDS));
  assert.ok(ring.tryPush(new Uint8Array(100), 1, 4, ADDR));
});

Deno.test("ring: random sizes across many wraps match a FIFO model", () => {
  const rand = rng(0x5eed);
  const ring = DatagramRing.create(2048);
  const model: Uint8Array[] = [];
  const meta = new Int32Array(RECORD_META_WORDS);
  const buf = new Uint8Array(2048);
  let pushed = 0;
  let dropped = 0;
  for (let step = 0; step < 20_000; step++) {
    if (rand() < 0.55) {
      const d = new Uint8Array(Math.floor(rand() * 700));
      for (let i = 0; i < d.length; i++) d[i] = (step + i) & 0xff;
      if (ring.tryPush(d, step & 0xffff, 4, ADDR)) {
        model.push(d);
        pushed++;
      } else dropped++;
    } else {
      const want = model.shift();
      const len = ring.shiftInto(buf, meta);
      if (want === undefined) {
        assert.equal(len, -1);
        continue;
      }
      assert.equal(len, want.length);
      assert.deepEqual(buf.subarray(0, len), want);
    }
  }
  assert.ok(
    pushed > 5000 && dropped > 0,
    `exercise both paths (${pushed} pushed, ${dropped} dropped)`,
  );
  assert.equal(ring.dropped, dropped);
});

Deno.test("ring: prepareSleep refuses when data raced in; close wakes a sleeper", async () => {
  const ring = DatagramRing.create(1024);
  ring.tryPush(new Uint8Array(1), 1, 4, ADDR);
  assert.equal(ring.prepareSleep(), false);
  ring.shiftInto(new Uint8Array(4), new Int32Array(RECORD_META_WORDS));
  assert.equal(ring.prepareSleep(), true);
  const slept = ring.sleep();
  ring.close();
  assert.equal(await slept, "ok");
  assert.ok(ring.closed);
  assert.equal(ring.prepareSleep(), false);
});

Deno.test("ring: wakeConsumer notifies a sleeping consumer and only then", async () => {
  const ring = DatagramRing.create(1024);
  ring.wakeConsumer(); // nobody sleeps: nothing to do, no error
  assert.equal(ring.prepareSleep(), true);
  const slept = ring.sleep();
  ring.tryPush(new Uint8Array(1), 1, 4, ADDR);
  ring.wakeConsumer();
  assert.equal(await slept, "ok");
  assert.ok(ring.hasData());
});

Deno.test("ring: claimSleeper hands the wake-up to exactly one caller; cancelSleep withdraws", () => {
  const ring = DatagramRing.create(1024);
  const producer = new DatagramRing(ring.buffer);
  assert.equal(producer.claimSleeper(), false, "nobody sleeps");
  assert.equal(ring.prepareSleep(), true);
  assert.equal(producer.claimSleeper(), true, "the sleeper is claimed once");
  assert.equal(producer.claimSleeper(), false, "and only once");
  assert.equal(ring.prepareSleep(), true);
  ring.cancelSleep(); // woke by other means (its socket)
  assert.equal(producer.claimSleeper(), false, "a withdrawn sleep needs no wake");
});
