import assert from "node:assert/strict";
import { DnsCache } from "../../src/dns/cache.ts";
import { ManualClock } from "../../src/clock.ts";

const v4 = (d: number) => new Uint8Array([192, 0, 2, d]);

Deno.test("DnsCache: entries expire after their TTL; remaining TTL counts down", () => {
  const clock = new ManualClock(1000);
  const cache = new DnsCache({ clock });
  cache.set("a|A", { addresses: [v4(1)], nxdomain: false }, 10);
  assert.equal(cache.get("a|A")?.ttl, 10);
  clock.advance(3_500);
  assert.equal(cache.get("a|A")?.ttl, 6);
  clock.advance(6_499);
  assert.equal(cache.get("a|A")?.ttl, 0);
  clock.advance(1);
  assert.equal(cache.get("a|A"), undefined);
  assert.equal(cache.size, 0);
});

Deno.test("DnsCache: TTL 0 or negative is not stored; set replaces", () => {
  const cache = new DnsCache({ clock: new ManualClock() });
  cache.set("a|A", { addresses: [v4(1)], nxdomain: false }, 0);
  cache.set("b|A", { addresses: [v4(1)], nxdomain: false }, -5);
  cache.set("c|A", { addresses: [v4(1)], nxdomain: false }, NaN);
  assert.equal(cache.size, 0);
  cache.set("a|A", { addresses: [v4(1)], nxdomain: false }, 5);
  cache.set("a|A", { addresses: [], nxdomain: true }, 5);
  assert.equal(cache.size, 1);
  assert.equal(cache.get("a|A")?.nxdomain, true);
});

Deno.test("DnsCache: bounded, least recently used goes first", () => {
  const cache = new DnsCache({ maxEntries: 3, clock: new ManualClock() });
  for (const k of ["a", "b", "c"]) cache.set(k, { addresses: [v4(1)], nxdomain: false }, 60);
  assert.ok(cache.get("a")); // a is now the most recent; b the least
  cache.set("d", { addresses: [v4(1)], nxdomain: false }, 60);
  assert.equal(cache.size, 3);
  assert.equal(cache.get("b"), undefined);
  assert.ok(cache.get("a") && cache.get("c") && cache.get("d"));
  for (let i = 0; i < 1000; i++) cache.set(`k${i}`, { addresses: [], nxdomain: true }, 60);
  assert.equal(cache.size, 3);
  assert.ok(cache.get("k999") && cache.get("k998") && cache.get("k997"));
});
