import assert from "node:assert/strict";
import { formatMarkdown, formatText, median, perRunRatios } from "../../bench/e2e/report.ts";

Deno.test("bench report: run-by-run ratios pair run i of ours with run i of A", () => {
  assert.deepEqual(perRunRatios([800, 1000, 500], [400, 600, 350]), [0.5, 0.7]);
  // a failed run (NaN, 0) drops out of its pair only; the others stay paired by index
  assert.deepEqual(perRunRatios([NaN, 1000, 500, 400], [400, 900, 0, 200]), [0.5, 0.9]);
  assert.equal(perRunRatios([1000], [900]), undefined, "one pair is no range");
  assert.equal(perRunRatios(undefined, [900, 800]), undefined, "A not measured");
  assert.equal(median([3, NaN, 1, 2]), 2);
});

Deno.test("bench report: the table shows ours/A of the medians and the run-by-run range", () => {
  const rows = [
    {
      name: "TCP connect+echo+close per second",
      values: { "wg-go": 857, ours: 458 },
      higherIsBetter: true,
      digits: 0,
      perRun: [0.52, 0.68] as [number, number],
    },
    { name: "RSS per idle TCP flow (KB)", values: { ours: 2.6 }, higherIsBetter: false, digits: 1 },
  ];
  const md = formatMarkdown(rows).split("\n");
  assert.equal(md[0], "| measure | (0) veth | (A) wireguard-go | ours | ours/A | run by run |");
  assert.equal(
    md[2],
    "| TCP connect+echo+close per second ↑ |  | 857 | 458 | 0.53× | 0.52–0.68× |",
  );
  assert.equal(md[3], "| RSS per idle TCP flow (KB) ↓ |  |  | 2.6 |  |  |");
  assert.match(formatText(rows), /0\.53×\s+0\.52–0\.68×/);
});
