import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { formatKey, KeyFormatError, parseKey } from "../../src/wireguard/key_text.ts";

Deno.test("known answers against node:buffer base64", () => {
  const bytes = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
  const text = Buffer.from(bytes).toString("base64");
  assert.equal(formatKey(bytes), text);
  assert.deepEqual(parseKey(text), bytes);
  assert.equal(formatKey(new Uint8Array(32)), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  assert.equal(
    formatKey(new Uint8Array(32).fill(255)),
    "//////////////////////////////////////////8=",
  );
  // A key as printed by `wg genkey` (whitepaper test-vector style).
  const wg = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
  assert.deepEqual(parseKey(wg), new Uint8Array(Buffer.from(wg, "base64")));
});

Deno.test("round trip of random keys", () => {
  for (let i = 0; i < 200; i++) {
    const k = crypto.getRandomValues(new Uint8Array(32));
    assert.deepEqual(parseKey(formatKey(k)), k);
  }
});

Deno.test("rejects non-canonical and malformed text", () => {
  const good = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
  const cases: [string, RegExp][] = [
    ["", /44 characters/],
    [good.slice(0, 43), /44 characters/],
    [good + "=", /44 characters/],
    [good.slice(0, 43) + "A", /ending in a single '='/],
    [good.slice(0, 42) + "==", /ending in a single '='/],
    [good.replace("+", "-"), /base64/],
    [good.replace("F", " "), /base64/],
    [good.slice(0, 42) + "n=", /not canonical/], // "k"->"n" sets an unused low bit
    ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", /not canonical/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseKey(text), (e: unknown) => {
      assert.ok(e instanceof KeyFormatError, text);
      assert.match(e.message, re, text);
      return true;
    });
  }
  assert.throws(() => formatKey(new Uint8Array(31)), RangeError);
});
