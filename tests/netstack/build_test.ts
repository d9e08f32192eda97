/**
 * Reproducibility: rebuilds netstack.wasm from the Debian lwIP source with clang-19 and compares
 * bytes with the committed module. Skips (with a message) when the toolchain or source is absent.
 */
import assert from "node:assert/strict";
import { NETSTACK_WASM_BASE64, NETSTACK_WASM_SHA256 } from "../../src/netstack/netstack_wasm.ts";

const root = new URL("../../", import.meta.url);
const buildScript = new URL("src/netstack/wasm/build.sh", root).pathname;

function has(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

function toolchainMissing(): string | null {
  if (!has("clang-19", ["--version"])) return "clang-19 not installed";
  try {
    Deno.statSync("/usr/lib/wasm32-wasi/libc.a");
  } catch {
    return "wasi-libc not installed";
  }
  const dscPresent = (() => {
    try {
      return [...Deno.readDirSync(new URL("src/netstack/wasm/build/", root))].some((e) =>
        e.name.endsWith(".dsc")
      );
    } catch {
      return false;
    }
  })();
  if (!dscPresent && !has("apt-get", ["source", "--help"])) return "lwIP source not available";
  return null;
}

const missing = toolchainMissing();
if (missing) console.log(`build_test: skipping the rebuild: ${missing}`);

Deno.test("embedded module matches the committed netstack.wasm", () => {
  const committed = Deno.readFileSync(new URL("src/netstack/netstack.wasm", root));
  const embedded = Uint8Array.from(atob(NETSTACK_WASM_BASE64), (c) => c.charCodeAt(0));
  assert.deepEqual(embedded, committed);
});

Deno.test({
  name: "build.sh reproduces netstack.wasm byte for byte",
  ignore: missing !== null,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "netstack-build-" });
    try {
      const r = await new Deno.Command("bash", {
        args: [buildScript],
        env: { NEWT_WASM_OUT: out },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      const rebuilt = await Deno.readFile(`${out}/netstack.wasm`);
      const committed = await Deno.readFile(new URL("src/netstack/netstack.wasm", root));
      assert.deepEqual(rebuilt, committed, "rebuild differs from the committed netstack.wasm");
      const hash = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", rebuilt)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      assert.equal(hash, NETSTACK_WASM_SHA256);
      assert.equal(
        await Deno.readTextFile(`${out}/netstack_wasm.ts`),
        await Deno.readTextFile(new URL("src/netstack/netstack_wasm.ts", root)),
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("the module loads with no permissions at all (no read, no net)", async () => {
  const code = `
    import { Netstack } from ${JSON.stringify(new URL("src/netstack/mod.ts", root).href)};
    const s = await Netstack.create({ addresses: ["10.88.0.1/24"] });
    s.close();
    console.log("ok");
  `;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", "--no-check", code],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(new TextDecoder().decode(r.stdout).trim(), "ok", new TextDecoder().decode(r.stderr));
});
