/**
 * A short run of bench/soak.ts (~20 s of load) when root with namespaces and wireguard-go;
 * skipped otherwise. The full soak: `deno run -A --unstable-net bench/soak.ts 600`.
 */
import assert from "node:assert/strict";
import { interopUnavailable } from "../interop/_netns.ts";

const skip = await interopUnavailable();
if (skip) console.warn(`SKIP hardening/soak: ${skip}`);

Deno.test({
  name: "soak: 20 s of churn through wireguard-go returns to baseline",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL("../../bench/soak.ts", import.meta.url).pathname,
      "20",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  console.log(stderr.split("\n").filter((l) => l.startsWith("soak ")).join("\n"));
  const r = JSON.parse(last);
  console.log(`soak: ${JSON.stringify({ checks: r.checks, load: r.load })}`);
  // The failed checks' names come last so that a log's tail shows them.
  const failed = Object.entries(r.checks ?? {}).filter(([, ok]) => !ok).map(([k]) => k);
  assert.equal(
    out.code,
    0,
    `soak failed: ${last}\n${stderr.slice(-2000)}\nfailed checks: ${failed.join(", ") || "none"}`,
  );
  assert.equal(r.ok, true, `failed checks: ${failed.join(", ")}`);
});
