import assert from "node:assert/strict";
import { TransportAead } from "../../src/wireguard/transport_aead.ts";
import { aeadDecrypt, aeadEncrypt } from "../../src/wireguard/crypto.ts";

Deno.test("transport aead: wasm and node:crypto produce the same messages", () => {
  const wasm = new TransportAead("wasm"), node = new TransportAead("node");
  const key = crypto.getRandomValues(new Uint8Array(32));
  const kw = wasm.install(key), kn = node.install(key);
  assert.ok(kw.slot >= 0);
  assert.equal(kn.slot, -1);
  for (const [len, counter] of [[0, 0], [16, 1], [1424, 2 ** 32 + 7], [8992, 123456789]]) {
    const plain = crypto.getRandomValues(new Uint8Array(len!));
    const a = new Uint8Array(len! + 16), b = new Uint8Array(len! + 16);
    wasm.seal(kw, counter!, plain, a);
    node.seal(kn, counter!, plain, b);
    assert.deepEqual(a, b);
    assert.deepEqual(a, aeadEncrypt(key, counter!, plain));
    const spare = new Uint8Array(9000);
    assert.deepEqual(wasm.open(kw, counter!, a, spare), plain);
    assert.deepEqual(node.open(kn, counter!, a, spare), plain);
    a[0]! ^= 1;
    assert.equal(wasm.open(kw, counter!, a, spare), null);
    assert.equal(aeadDecrypt(key, counter!, a), null);
  }
});

Deno.test("transport aead: when wasm key slots run out, keys fall back to node:crypto", () => {
  const aead = new TransportAead("wasm");
  const key = new Uint8Array(32).fill(9);
  const all = [];
  const total = aead.freeSlots;
  for (let i = 0; i < total; i++) all.push(aead.install(key));
  const extra = aead.install(key);
  assert.equal(extra.slot, -1);
  const out = new Uint8Array(48);
  aead.seal(extra, 5, new Uint8Array(32), out);
  assert.deepEqual(aead.open(all[0]!, 5, out, new Uint8Array(64)), new Uint8Array(32));
  aead.release(all[0]!);
  assert.equal(aead.freeSlots, 1);
  assert.ok(aead.install(key).slot >= 0);
});
