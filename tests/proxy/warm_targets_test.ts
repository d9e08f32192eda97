import assert from "node:assert/strict";
import { WarmTargets } from "../../src/proxy/warm_targets.ts";

Deno.test("warm targets: a confirmed target stays warm for the TTL, then is forgotten", () => {
  let now = 1_000;
  const warm = new WarmTargets(() => now, 30_000, 8);
  warm.enabled = true;
  assert.equal(warm.has("10.0.0.1", 80), false, "never dialed: cold");
  warm.confirm("10.0.0.1", 80);
  assert.equal(warm.has("10.0.0.1", 80), true);
  assert.equal(warm.has("10.0.0.1", 81), false, "the port is part of the key");
  assert.equal(warm.has("10.0.0.2", 80), false);
  now += 29_999;
  assert.equal(warm.has("10.0.0.1", 80), true);
  warm.confirm("10.0.0.1", 80); // another successful dial renews it
  now += 29_999;
  assert.equal(warm.has("10.0.0.1", 80), true);
  now += 1;
  assert.equal(warm.has("10.0.0.1", 80), false, "expired");
  assert.equal(warm.size, 0, "an expired entry is dropped when looked up");
});

Deno.test("warm targets: a failed dial forgets the target", () => {
  const warm = new WarmTargets(() => 0);
  warm.enabled = true;
  warm.confirm("fd00::1", 443);
  warm.forget("fd00::1", 443);
  assert.equal(warm.has("fd00::1", 443), false);
  warm.forget("fd00::9", 1); // unknown: nothing happens
  assert.equal(warm.size, 0);
});

Deno.test("warm targets: at the bound the least recently confirmed target goes first", () => {
  const warm = new WarmTargets(() => 0, 30_000, 3);
  warm.enabled = true;
  warm.confirm("a", 1);
  warm.confirm("b", 1);
  warm.confirm("c", 1);
  warm.confirm("a", 1); // renewed: now the most recent
  warm.confirm("d", 1); // over the bound: "b" is the oldest confirmation
  assert.equal(warm.size, 3);
  assert.deepEqual(
    ["a", "b", "c", "d"].map((h) => warm.has(h, 1)),
    [true, false, true, true],
  );
  for (let i = 0; i < 1000; i++) warm.confirm(`h${i}`, 1);
  assert.equal(warm.size, 3, "never more than the bound");
});

Deno.test("warm targets: disabled (the default) nothing is warm, and turning it off forgets", () => {
  const warm = new WarmTargets(() => 0);
  assert.equal(warm.enabled, false);
  warm.confirm("10.0.0.1", 80);
  assert.equal(warm.has("10.0.0.1", 80), false);
  assert.equal(warm.size, 0, "nothing remembered while off");
  warm.enabled = true;
  warm.confirm("10.0.0.1", 80);
  assert.equal(warm.has("10.0.0.1", 80), true);
  warm.enabled = false;
  warm.enabled = true;
  assert.equal(warm.has("10.0.0.1", 80), false, "switching off cleared the set");
});
