import assert from "node:assert/strict";
import { renderWorkerBundle, WORKER_BUNDLE_PATH } from "../../src/udp_worker/_build_bundle.ts";

Deno.test("udp worker: the committed worker bundle matches worker.ts and its imports", async () => {
  const fresh = await renderWorkerBundle();
  const stored = await Deno.readTextFile(WORKER_BUNDLE_PATH);
  assert.ok(
    fresh === stored,
    "src/udp_worker/_worker_bundle.ts is stale: run " +
      "`deno run --allow-read --allow-write --allow-run src/udp_worker/_build_bundle.ts`",
  );
});
