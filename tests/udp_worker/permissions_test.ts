/**
 * The worker must run with `--allow-net` alone (no read or import permission for its module),
 * with and without `--unstable-net` (deno and node backends inside the worker): child processes.
 */
import assert from "node:assert/strict";

const CHILD = new URL("./_net_only_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

async function runChild(flags: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--config", CONFIG, ...flags, "--allow-net=127.0.0.1", CHILD],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `child failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("udp worker: --allow-net only, without --unstable-net → node backend in the worker", async () => {
  const r = await runChild([]);
  assert.deepEqual(r, { worker: true, backend: "node", echoed: [7, 8, 9], closed: null });
});

Deno.test("udp worker: --allow-net only, with --unstable-net → deno backend in the worker", async () => {
  const r = await runChild(["--unstable-net"]);
  assert.deepEqual(r, { worker: true, backend: "deno", echoed: [7, 8, 9], closed: null });
});
