import assert from "node:assert/strict";
import { PROXY_V8_FLAGS, v8FlagsArg } from "../../bench/v8_flags.ts";

Deno.test("v8 flags: deno task start and compile run the proxy with the flags the benchmarks use", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  for (const task of ["start", "compile"]) {
    const flags = (config.tasks[task] as string).match(/--v8-flags=(\S+)/)?.[1];
    assert.deepEqual(flags?.split(","), [...PROXY_V8_FLAGS], `deno task ${task}`);
  }
});

Deno.test("v8 flags: extra flags go first, then the proxy's", () => {
  assert.equal(v8FlagsArg(), `--v8-flags=${PROXY_V8_FLAGS.join(",")}`);
  assert.equal(v8FlagsArg("--a", "--b"), `--v8-flags=--a,--b,${PROXY_V8_FLAGS.join(",")}`);
});

Deno.test("v8 flags: this Deno's V8 knows every one of them", async () => {
  // an unknown flag stops `deno run` before the proxy starts
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", v8FlagsArg(), "console.log('ran')"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "ran", stderr);
  assert.doesNotMatch(stderr, /unrecognized|did not recognize/i);
});
