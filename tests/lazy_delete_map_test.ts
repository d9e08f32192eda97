import assert from "node:assert/strict";
import { LazyDeleteMap, SWEEP_AT_LEAST } from "../src/lazy_delete_map.ts";

Deno.test("lazy delete map: answers as a Map does through a long random run of sets and deletes", () => {
  const m = new LazyDeleteMap<number, number>();
  const ref = new Map<number, number>();
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let i = 0; i < 50_000; i++) {
    const k = rnd(600);
    if (rnd(3) === 0) {
      assert.equal(m.delete(k), ref.delete(k));
    } else {
      m.set(k, i);
      ref.set(k, i);
    }
    const probe = rnd(600);
    assert.equal(m.get(probe), ref.get(probe));
    assert.equal(m.has(probe), ref.has(probe));
    assert.equal(m.size, ref.size);
  }
  assert.deepEqual(new Map(m.entries()), ref);
  assert.deepEqual([...m.values()].sort((a, b) => a - b), [...ref.values()].sort((a, b) => a - b));
});

Deno.test("lazy delete map: one key at a time keeps at most the sweep's batch of deleted keys", () => {
  const m = new LazyDeleteMap<string, { n: number }>();
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    m.set(`flow-${i}`, { n: i });
    assert.equal(m.size, 1);
    assert.ok(m.delete(`flow-${i}`));
    assert.equal(m.delete(`flow-${i}`), false); // already gone
    most = Math.max(most, m.heldEntries);
  }
  assert.equal(m.size, 0);
  assert.ok(most <= SWEEP_AT_LEAST, `held ${most} entries`);
  assert.ok(m.heldEntries < SWEEP_AT_LEAST);
});

Deno.test("lazy delete map: with many live entries the deleted ones stay fewer than the live", () => {
  const m = new LazyDeleteMap<number, number>();
  for (let i = 0; i < 2_000; i++) m.set(i, i);
  for (let i = 0; i < 2_000; i += 2) m.delete(i); // 1,000 live, 1,000 deleted: swept
  assert.equal(m.size, 1_000);
  assert.ok(m.heldEntries <= 2 * m.size, `held ${m.heldEntries}`);
  for (let i = 1; i < 2_000; i += 2) assert.equal(m.get(i), i);
});

Deno.test("lazy delete map: undefined values, a deleted key set again, and clear", () => {
  const m = new LazyDeleteMap<string, number | undefined>();
  m.set("u", undefined);
  assert.ok(m.has("u"));
  assert.equal(m.size, 1);
  assert.ok(m.delete("u"));
  assert.ok(!m.has("u"));
  m.set("a", 1);
  m.delete("a");
  m.set("a", 2); // the deleted entry comes back with the new value
  assert.equal(m.get("a"), 2);
  assert.equal(m.size, 1);
  assert.deepEqual([...m.entries()], [["a", 2]]);
  m.clear();
  assert.equal(m.size, 0);
  assert.equal(m.heldEntries, 0);
  assert.equal(m.get("a"), undefined);
});
