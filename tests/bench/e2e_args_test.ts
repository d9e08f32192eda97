import assert from "node:assert/strict";
import { parseE2EArgs } from "../../bench/e2e/main.ts";

Deno.test("bench e2e args: --quick leaves RESULTS.md alone unless --out names a file", () => {
  assert.equal(parseE2EArgs(["--quick"]).out, null);
  assert.equal(parseE2EArgs(["--quick"]).runs, 1);
  assert.equal(parseE2EArgs(["--quick", "--out", "/tmp/quick.md"]).out, "/tmp/quick.md");
  assert.equal(parseE2EArgs([]).out, undefined, "the full run keeps its default file");
  assert.equal(parseE2EArgs(["--no-out"]).out, null);
});

Deno.test("bench e2e args: typos and bad values are refused with the flag's name", () => {
  assert.throws(() => parseE2EArgs(["--quik"]), /quik/);
  assert.throws(() => parseE2EArgs(["--runs", "0"]), /--runs needs a positive number/);
  assert.throws(() => parseE2EArgs(["--scenarios", "ours,wg"]), /unknown scenario 'wg'/);
});
