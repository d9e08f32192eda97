import assert from "node:assert/strict";
import { closest, editDistance } from "../../src/cli/closest.ts";

Deno.test("editDistance: known values, transposition counts once", () => {
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("abc", "abc"), 0);
  assert.equal(editDistance("ab", "ba"), 1);
  assert.equal(editDistance("lisen-port", "listen-port"), 1);
});

Deno.test("closest: unique prefix first, then smallest distance", () => {
  const flags = ["listen-port", "listen-address", "log-level", "log-format", "help"];
  assert.equal(closest("log-levle", flags), "log-level");
  assert.equal(closest("listen-p", flags), "listen-port");
  assert.equal(closest("hepl", flags), "help");
  assert.equal(closest("anything", []), undefined);
});
