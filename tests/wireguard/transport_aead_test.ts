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

Deno.test("transport aead: sealMessage pads and seals behind a header, as seal does", () => {
  const wasm = new TransportAead("wasm"), node = new TransportAead("node");
  const key = crypto.getRandomValues(new Uint8Array(32));
  const kw = wasm.install(key);
  // The scratch region is reused: dirty it first, so padding that was not zeroed would show.
  wasm.seal(kw, 1, new Uint8Array(2000).fill(0xaa), new Uint8Array(2016));
  for (const [len, padded, counter] of [[0, 0, 0], [1, 16, 3], [1419, 1424, 2 ** 32 + 1]]) {
    const packet = crypto.getRandomValues(new Uint8Array(len!));
    const msg = wasm.sealMessage(kw, counter!, packet, padded!, 16);
    assert.ok(msg);
    assert.equal(msg.length, 16 + padded! + 16);
    const plain = new Uint8Array(padded!);
    plain.set(packet);
    assert.deepEqual(msg.subarray(16), aeadEncrypt(key, counter!, plain));
  }
  // The node:crypto path has no wasm memory to build in: the caller falls back to seal().
  assert.equal(node.sealMessage(node.install(key), 0, new Uint8Array(4), 16, 16), null);
});
