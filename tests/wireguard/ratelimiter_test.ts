import assert from "node:assert/strict";
import { RateLimiter, TokenBucket } from "../../src/wireguard/ratelimiter.ts";
import { parseIp } from "../../src/wire/ip_address.ts";

function fakeClock(start = 1000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

Deno.test("TokenBucket: starts full, refills at rate, caps at burst", () => {
  const c = fakeClock();
  const b = new TokenBucket({ rate: 10, burst: 3, now: c.now });
  assert.ok(b.take());
  assert.ok(b.take());
  assert.ok(b.take());
  assert.ok(!b.take());
  assert.equal(b.waitTime(), 100);
  c.t += 99;
  assert.ok(!b.take());
  c.t += 1;
  assert.ok(b.take());
  c.t += 10_000;
  assert.equal(b.tokens, 3);
  assert.ok(b.take(3));
  assert.ok(!b.take(1));
  assert.equal(b.waitTime(4), Infinity);
  assert.ok(!b.take(4));
  // Fractional accumulation.
  c.t += 250;
  assert.ok(Math.abs(b.tokens - 2.5) < 1e-9);
  assert.ok(b.take(2.5));
  // A clock stepping backwards neither refills nor drains.
  c.t -= 5000;
  assert.equal(b.tokens, 0);
  c.t += 5100;
  assert.ok(Math.abs(b.tokens - 1) < 1e-9, "no credit for the backward step");
  assert.throws(() => new TokenBucket({ rate: 0, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ rate: 1, burst: 0.5 }), RangeError);
});

Deno.test("RateLimiter: wireguard-go defaults, 20/s burst 5 per source", () => {
  const c = fakeClock();
  const rl = new RateLimiter({ now: c.now });
  const a = parseIp("192.0.2.1");
  const b = parseIp("192.0.2.2");
  let n = 0;
  for (let i = 0; i < 20; i++) if (rl.allow(a)) n++;
  assert.equal(n, 5);
  assert.ok(rl.allow(b), "other sources unaffected");
  c.t += 49;
  assert.ok(!rl.allow(a));
  c.t += 1;
  assert.ok(rl.allow(a), "one packet per 50 ms");
  assert.ok(!rl.allow(a));
  // Over 10 s of steady flooding (1 packet/ms), about 20/s get through.
  let passed = 0;
  for (let ms = 0; ms < 10_000; ms++) {
    c.t += 1;
    if (rl.allow(a)) passed++;
  }
  assert.ok(passed >= 199 && passed <= 201, `${passed}`);
  assert.equal(rl.stats.allowed, 5 + 1 + 1 + passed);
});

Deno.test("RateLimiter: IPv6 grouped by /64, v4-mapped counts as v4", () => {
  const c = fakeClock();
  const rl = new RateLimiter({ now: c.now, burst: 2 });
  assert.ok(rl.allow(parseIp("2001:db8:1:2::1")));
  assert.ok(rl.allow(parseIp("2001:db8:1:2:ffff::9")));
  assert.ok(!rl.allow(parseIp("2001:db8:1:2::77")), "same /64");
  assert.ok(rl.allow(parseIp("2001:db8:1:3::1")), "other /64");
  assert.ok(rl.allow(parseIp("10.0.0.1")));
  assert.ok(rl.allow(parseIp("::ffff:10.0.0.1")));
  assert.ok(!rl.allow(parseIp("10.0.0.1")), "mapped and plain share a bucket");
  assert.equal(rl.size, 3);
  assert.ok(!rl.allow(new Uint8Array(5)));
  assert.equal(rl.stats.badAddress, 1);
});

Deno.test("RateLimiter: idle entries are collected after idleMs", () => {
  const c = fakeClock();
  const rl = new RateLimiter({ now: c.now });
  for (let i = 0; i < 100; i++) rl.allow(new Uint8Array([10, 0, 0, i]));
  assert.equal(rl.size, 100);
  c.t += 500;
  rl.allow(parseIp("10.1.0.1"));
  assert.equal(rl.size, 101, "nothing idle long enough yet");
  c.t += 600;
  rl.allow(parseIp("10.1.0.2"));
  assert.equal(rl.size, 2, "swept all but the two recent sources");
  c.t += 5000;
  rl.sweep();
  assert.equal(rl.size, 0);
});

Deno.test("RateLimiter: bounded table refuses new sources at the bound", () => {
  const c = fakeClock();
  const rl = new RateLimiter({ now: c.now, maxEntries: 3 });
  assert.ok(rl.allow(parseIp("10.0.0.1")));
  assert.ok(rl.allow(parseIp("10.0.0.2")));
  assert.ok(rl.allow(parseIp("fd00::1")));
  assert.ok(!rl.allow(parseIp("10.0.0.4")));
  assert.equal(rl.stats.tableFull, 1);
  assert.ok(rl.allow(parseIp("10.0.0.1")), "known sources still served");
  c.t += 1001;
  assert.ok(rl.allow(parseIp("10.0.0.4")), "room again once idle entries go");
  assert.equal(rl.size, 1);
  rl.clear();
  assert.equal(rl.size, 0);
});
