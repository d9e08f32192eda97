import assert from "node:assert/strict";
import { BoundedCache } from "../src/bounded_cache.ts";

Deno.test("bounded cache: never holds more than its limit; a full cache starts over", () => {
  const c = new BoundedCache<number, string>(3);
  for (let i = 0; i < 3; i++) c.set(i, `v${i}`);
  assert.equal(c.size, 3);
  assert.equal(c.get(1), "v1");
  c.set(1, "again"); // a stored key is replaced, nothing forgotten
  assert.equal(c.size, 3);
  assert.equal(c.get(0), "v0");
  c.set(99, "new"); // full: cleared, then stored
  assert.equal(c.size, 1);
  assert.equal(c.get(0), undefined);
  assert.ok(c.has(99));
  for (let i = 0; i < 10_000; i++) c.set(i, "x");
  assert.ok(c.size <= 3);
  assert.throws(() => new BoundedCache(0), RangeError);
});
