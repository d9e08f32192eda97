import assert from "node:assert/strict";
import { blake2s } from "@noble/hashes/blake2";
import { chacha20poly1305 } from "@noble/ciphers/chacha";
import {
  aeadDecrypt,
  aeadEncrypt,
  clampPrivateKey,
  dh,
  hash,
  hmacBlake2s,
  kdf,
  mac,
  publicKeyOf,
  xaeadDecrypt,
  xaeadEncrypt,
} from "../../src/wireguard/crypto.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("HASH is BLAKE2s-256 (RFC 7693 Appendix B: 'abc')", () => {
  assert.equal(
    toHex(hash(new TextEncoder().encode("abc"))),
    "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
  );
  // Several inputs hash as their concatenation.
  const a = new Uint8Array([1, 2]), b = new Uint8Array([3]);
  assert.deepEqual(hash(a, b), hash(new Uint8Array([1, 2, 3])));
});

Deno.test("MAC is keyed BLAKE2s with a 16-byte output", () => {
  const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const m = mac(key, new Uint8Array(0));
  assert.equal(m.length, 16);
  assert.notDeepEqual(m, mac(key.slice().fill(1), new Uint8Array(0)));
});

Deno.test("HMAC-BLAKE2s and KDF follow RFC 2104 / HKDF by hand", () => {
  // Independent HMAC: H((K ^ opad) || H((K ^ ipad) || m)) with a 64-byte block.
  const key = new Uint8Array(32).fill(7);
  const msg = new TextEncoder().encode("wireguard");
  const block = new Uint8Array(64);
  block.set(key);
  const ipad = block.map((x) => x ^ 0x36), opad = block.map((x) => x ^ 0x5c);
  const inner = blake2s(new Uint8Array([...ipad, ...msg]));
  const expected = blake2s(new Uint8Array([...opad, ...inner]));
  assert.deepEqual(hmacBlake2s(key, msg), expected);
  const [t1, t2, t3] = kdf(3, key, msg);
  const prk = hmacBlake2s(key, msg);
  assert.deepEqual(t1, hmacBlake2s(prk, new Uint8Array([1])));
  assert.deepEqual(t2, hmacBlake2s(prk, new Uint8Array([...t1!, 2])));
  assert.deepEqual(t3, hmacBlake2s(prk, new Uint8Array([...t2!, 3])));
});

Deno.test("DH is X25519 (RFC 7748 §6.1) and rejects low-order points", () => {
  const alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const bob = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  assert.equal(
    toHex(publicKeyOf(alice)),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assert.equal(
    toHex(publicKeyOf(bob)),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(toHex(dh(alice, publicKeyOf(bob))!), shared);
  assert.equal(toHex(dh(bob, publicKeyOf(alice))!), shared);
  assert.equal(dh(alice, new Uint8Array(32)), null);
  assert.equal(dh(alice, new Uint8Array(31)), null);
});

Deno.test("public keys match WebCrypto's X25519 (an independent implementation)", async () => {
  const priv = clampPrivateKey(crypto.getRandomValues(new Uint8Array(32)));
  const pkcs8 = new Uint8Array([
    ...hex("302e020100300506032b656e04220420"),
    ...priv,
  ]);
  const k = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", k);
  const x = Uint8Array.from(
    atob(jwk.x!.replace(/-/g, "+").replace(/_/g, "/")),
    (c) => c.charCodeAt(0),
  );
  assert.deepEqual(publicKeyOf(priv), x);
});

Deno.test("AEAD is ChaCha20-Poly1305 with nonce 0^32 || LE64(counter)", () => {
  // Reference: @noble/ciphers (independent of node:crypto), itself checked on RFC 8439 §2.8.2.
  const rfcKey = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const rfcNonce = hex("070000004041424344454647");
  const rfcAad = hex("50515253c0c1c2c3c4c5c6c7");
  const rfcPlain = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const rfcSealed = chacha20poly1305(rfcKey, rfcNonce, rfcAad).encrypt(rfcPlain);
  assert.equal(toHex(rfcSealed.subarray(0, 8)), "d31a8d34648e60db");
  assert.equal(toHex(rfcSealed.subarray(-16)), "1ae10b594f09e26a7e902ecbd0600691");

  const key = crypto.getRandomValues(new Uint8Array(32));
  const plain = crypto.getRandomValues(new Uint8Array(1420));
  const ad = new Uint8Array([9, 9, 9]);
  for (const counter of [0, 1, 0x01020304, 2 ** 40 + 5]) {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true);
    const expected = chacha20poly1305(key, nonce, ad).encrypt(plain);
    const sealed = aeadEncrypt(key, counter, plain, ad);
    assert.deepEqual(sealed, expected);
    assert.deepEqual(aeadDecrypt(key, counter, sealed, ad), plain);
    assert.equal(aeadDecrypt(key, counter + 1, sealed, ad), null);
    const bad = sealed.slice();
    bad[5]! ^= 1;
    assert.equal(aeadDecrypt(key, counter, bad, ad), null);
  }
  assert.equal(aeadDecrypt(key, 0, new Uint8Array(15)), null);
  // Empty plaintext (keepalives) is a bare tag.
  assert.equal(aeadEncrypt(key, 3, new Uint8Array(0)).length, 16);
});

Deno.test("AEAD encrypts in place into a caller's buffer", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const buf = new Uint8Array(64 + 16);
  buf.set(crypto.getRandomValues(new Uint8Array(64)));
  const plain = buf.slice(0, 64);
  aeadEncrypt(key, 7, buf.subarray(0, 64), undefined, buf);
  assert.deepEqual(aeadDecrypt(key, 7, buf), plain);
});

Deno.test("XAEAD round-trips and rejects tampering", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const ad = new Uint8Array(16).fill(3);
  const sealed = xaeadEncrypt(key, nonce, new Uint8Array(16).fill(5), ad);
  assert.equal(sealed.length, 32);
  assert.deepEqual(xaeadDecrypt(key, nonce, sealed, ad), new Uint8Array(16).fill(5));
  assert.equal(xaeadDecrypt(key, nonce, sealed, new Uint8Array(16)), null);
});
