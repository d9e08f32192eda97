import assert from "node:assert/strict";
import { memoryIo } from "../../src/cli/io.ts";
import { runCli } from "../../src/cli/main.ts";
import { parseKey } from "../../src/wireguard/key_text.ts";

function b64(hex: string): string {
  return btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));
}

Deno.test("pubkey: RFC 7748 §6.1 Alice's key pair", async () => {
  const priv = b64("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const pub = b64("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const io = memoryIo(priv + "\n");
  assert.equal(await runCli(["pubkey"], { io }), 0);
  assert.equal(io.stdout, pub + "\n");
});

Deno.test("pubkey: bad stdin exits 1 with a message", async () => {
  const io = memoryIo("not a key\n");
  assert.equal(await runCli(["pubkey"], { io }), 1);
  assert.match(io.stderr, /stdin is not a private key/);
  assert.equal(io.stdout, "");
});

Deno.test("genkey and genpsk: fresh canonical keys; genkey is clamped", async () => {
  const seen = new Set<string>();
  for (const cmd of ["genkey", "genpsk", "genkey", "genpsk"]) {
    const io = memoryIo();
    assert.equal(await runCli([cmd], { io }), 0);
    const text = io.stdout.trim();
    const key = parseKey(text);
    if (cmd === "genkey") {
      assert.equal(key[0]! & 7, 0);
      assert.equal(key[31]! & 0xc0, 0x40);
    }
    seen.add(text);
  }
  assert.equal(seen.size, 4);
});
