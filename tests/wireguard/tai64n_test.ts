import assert from "node:assert/strict";
import {
  TAI64N_LEN,
  tai64nAfter,
  tai64nCompare,
  tai64nFromMs,
  tai64nNow,
  tai64nToMs,
} from "../../src/wireguard/tai64n.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("known answers: label 2^62+10, big-endian, whitened nanoseconds", () => {
  // Unix 0 -> seconds 0x400000000000000a, nanos 0.
  assert.equal(hex(tai64nFromMs(0)), "400000000000000a" + "00000000");
  // 1_700_000_000.123456 s: secs 0x6553f100 (1700000000) + base; nanos 123456000 = 0x075bca00,
  // rounded down to a multiple of 2^24 = 0x07000000.
  assert.equal(1_700_000_000, 0x6553f100);
  assert.equal(hex(tai64nFromMs(1_700_000_000_123.456)), "400000006553f10a" + "07000000");
  // 999.999 ms -> 999999000 ns = 0x3b9ac618 -> 0x3b000000.
  assert.equal(hex(tai64nFromMs(1_700_000_000_999.999)), "400000006553f10a" + "3b000000");
  assert.equal(tai64nNow(() => 0).length, TAI64N_LEN);
});

Deno.test("whitening granularity is 2^24 ns", () => {
  const step = 2 ** 24 / 1e6; // ms
  const t0 = 1_700_000_000_000;
  assert.deepEqual(tai64nFromMs(t0), tai64nFromMs(t0 + step - 0.001));
  assert.ok(tai64nAfter(tai64nFromMs(t0 + step + 0.001), tai64nFromMs(t0)));
  for (let ms = 0; ms < 1000; ms += 7.3) {
    const nanos = new DataView(tai64nFromMs(t0 + ms).buffer).getUint32(8);
    assert.equal(nanos % 2 ** 24, 0);
    assert.ok(nanos <= ms * 1e6 && ms * 1e6 - nanos < 2 ** 24);
  }
});

Deno.test("compare and after follow time order, including across seconds", () => {
  const a = tai64nFromMs(1_000_000_000_990);
  const b = tai64nFromMs(1_000_000_001_000);
  assert.equal(tai64nCompare(a, b), -1);
  assert.equal(tai64nCompare(b, a), 1);
  assert.equal(tai64nCompare(a, a.slice()), 0);
  assert.ok(tai64nAfter(b, a));
  assert.ok(!tai64nAfter(a, b));
  assert.ok(!tai64nAfter(a, a.slice()), "equal is a replay");
  // Byte-wise comparison must treat bytes as unsigned.
  const hi = new Uint8Array(12);
  hi[11] = 0x80;
  assert.ok(tai64nAfter(hi, new Uint8Array(12)));
});

Deno.test("round trip to milliseconds and the default clock", () => {
  const ms = 1_700_000_000_000;
  assert.equal(tai64nToMs(tai64nFromMs(ms)), ms);
  const now = Date.now();
  const back = tai64nToMs(tai64nNow());
  assert.ok(Math.abs(back - now) < 1000);
  assert.throws(() => tai64nToMs(new Uint8Array(11)), RangeError);
  assert.throws(() => tai64nFromMs(NaN), RangeError);
});
