/**
 * The WebAssembly ChaCha20-Poly1305: RFC 8439 known answers (§2.3.2, §2.4.2, §2.5.2, §2.6.2,
 * §2.8.2, §A.5), seeded random cross-checks against node:crypto, forgeries, batches, bounds, and
 * the reproducible build.
 */
import assert from "node:assert/strict";
import nodeCrypto from "node:crypto";
import { AEAD_TAG_BYTES, DESCRIPTOR_WORDS, WasmAead } from "../../src/wireguard/wasm_aead/mod.ts";
import { AEAD_WASM_BASE64, AEAD_WASM_SHA256 } from "../../src/wireguard/wasm_aead/aead_wasm.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/[\s:]+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** mulberry32: a seeded generator, so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/** node:crypto's ChaCha20-Poly1305 under WireGuard's nonce (0^32 || LE64(counter)). */
function nodeSeal(key: Uint8Array, counter: bigint, plain: Uint8Array, ad: Uint8Array) {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, counter, true);
  const c = nodeCrypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  if (ad.length > 0) c.setAAD(ad, { plaintextLength: plain.length });
  const body = c.update(plain);
  c.final();
  return new Uint8Array([...body, ...c.getAuthTag()]);
}

const SUNSCREEN = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
    "future, sunscreen would be it.",
);
const KEY_00_1F = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

Deno.test("RFC 8439 §2.3.2: ChaCha20 block function", () => {
  const aead = WasmAead.create();
  aead.setKey(5, KEY_00_1F);
  const block = aead.chacha20Block(5, 1, hex("000000090000004a00000000"));
  assert.equal(
    toHex(block),
    "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e" +
      "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
  );
});

Deno.test("RFC 8439 §2.4.2: ChaCha20 encryption from block 1", () => {
  const aead = WasmAead.create();
  aead.setKey(0, KEY_00_1F);
  const ptr = aead.scratch(SUNSCREEN.length);
  aead.memory.set(SUNSCREEN, ptr);
  aead.xorKeystream(0, 1, hex("000000000000004a00000000"), ptr, SUNSCREEN.length);
  assert.equal(
    toHex(aead.memory.subarray(ptr, ptr + SUNSCREEN.length)),
    toHex(hex(`
      6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81 e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
      f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57 16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
      07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e 52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
      5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42 87 4d`)),
  );
});

Deno.test("RFC 8439 §2.5.2: Poly1305 of 'Cryptographic Forum Research Group'", () => {
  const aead = WasmAead.create();
  const tag = aead.poly1305(
    hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"),
    new TextEncoder().encode("Cryptographic Forum Research Group"),
  );
  assert.equal(toHex(tag), "a8061dc1305136c6c22b8baf0c0127a9");
});

Deno.test("RFC 8439 §2.6.2: the Poly1305 key is block 0's first 32 bytes", () => {
  const aead = WasmAead.create();
  aead.setKey(0, hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  const block = aead.chacha20Block(0, 0, hex("000000000001020304050607"));
  assert.equal(
    toHex(block.subarray(0, 32)),
    "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646",
  );
});

Deno.test("RFC 8439 §2.8.2: AEAD seal and open with AAD and a non-WireGuard nonce", () => {
  const aead = WasmAead.create();
  aead.setKey(1, hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  const nonce = hex("07000000 4041424344454647");
  const ad = hex("50515253c0c1c2c3c4c5c6c7");
  const base = aead.scratch(16 + SUNSCREEN.length + AEAD_TAG_BYTES);
  const ptr = base + 16;
  aead.memory.set(ad, base);
  aead.memory.set(SUNSCREEN, ptr);
  aead.sealWithNonce(1, nonce, ptr, SUNSCREEN.length, base, ad.length);
  const expected = hex(`
    d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
    3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
    92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
    3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16
    1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91`);
  assert.equal(toHex(aead.memory.subarray(ptr, ptr + expected.length)), toHex(expected));
  assert.ok(aead.openWithNonce(1, nonce, ptr, expected.length, base, ad.length));
  assert.deepEqual(aead.memory.slice(ptr, ptr + SUNSCREEN.length), SUNSCREEN);
  // Without the AAD the same bytes are a forgery.
  aead.sealWithNonce(1, nonce, ptr, SUNSCREEN.length, base, ad.length);
  assert.equal(aead.openWithNonce(1, nonce, ptr, expected.length), false);
});

Deno.test("RFC 8439 §A.5: decryption, nonce 00000000 0102030405060708 = WireGuard counter", () => {
  const aead = WasmAead.create();
  aead.setKey(8191, hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"));
  const ad = hex("f33388860000000000004e91");
  const sealed = hex(`
    64 a0 86 15 75 86 1a f4 60 f0 62 c7 9b e6 43 bd 5e 80 5c fd 34 5c f3 89 f1 08 67 0a c7 6c 8c b2
    4c 6c fc 18 75 5d 43 ee a0 9e e9 4e 38 2d 26 b0 bd b7 b7 3c 32 1b 01 00 d4 f0 3b 7f 35 58 94 cf
    33 2f 83 0e 71 0b 97 ce 98 c8 a8 4a bd 0b 94 81 14 ad 17 6e 00 8d 33 bd 60 f9 82 b1 ff 37 c8 55
    97 97 a0 6e f4 f0 ef 61 c1 86 32 4e 2b 35 06 38 36 06 90 7b 6a 7c 02 b0 f9 f6 15 7b 53 c8 67 e4
    b9 16 6c 76 7b 80 4d 46 a5 9b 52 16 cd e7 a4 e9 90 40 c5 a4 04 33 22 5e e2 82 a1 b0 a0 6c 52 3e
    af 45 34 d7 f8 3f a1 15 5b 00 47 71 8c bc 54 6a 0d 07 2b 04 b3 56 4e ea 1b 42 22 73 f5 48 27 1a
    0b b2 31 60 53 fa 76 99 19 55 eb d6 31 59 43 4e ce bb 4e 46 6d ae 5a 10 73 a6 72 76 27 09 7a 10
    49 e6 17 d9 1d 36 10 94 fa 68 f0 ff 77 98 71 30 30 5b ea ba 2e da 04 df 99 7b 71 4d 6c 6f 2c 29
    a6 ad 5c b4 02 2b 02 70 9b
    ee ad 9d 67 89 0c bb 22 39 23 36 fe a1 85 1f 38`);
  const base = aead.scratch(16 + sealed.length);
  const ptr = base + 16;
  aead.memory.set(ad, base);
  aead.memory.set(sealed, ptr);
  // Nonce bytes 4..11 are LE64(0x0807060504030201): counter low 0x04030201, high 0x08070605.
  assert.ok(aead.open(8191, 0x04030201, 0x08070605, ptr, sealed.length, base, ad.length));
  const plain = new TextDecoder().decode(aead.memory.subarray(ptr, ptr + sealed.length - 16));
  assert.ok(plain.startsWith("Internet-Drafts are draft documents valid for a maximum of six"));
  assert.ok(plain.endsWith("/\u201cwork in progress./\u201d"));
  assert.equal(sealed.length, 265 + 16);
  assert.equal(plain.length, 265 - 2 * 2); // 265 bytes; two 3-byte quotes, one char each
});

Deno.test("seal/open agree with node:crypto: random lengths 0..9000, counters past 2^32, AAD", () => {
  const rand = prng(0x5eed);
  const aead = WasmAead.create();
  const edges = [0, 1, 15, 16, 17, 63, 64, 65, 191, 192, 193, 255, 256, 257, 447, 448, 449, 1420];
  for (let i = 0; i < 300; i++) {
    const slot = (rand() * aead.keySlots) | 0;
    const key = randomBytes(rand, 32);
    aead.setKey(slot, key);
    const len = i < edges.length ? edges[i]! : (rand() * 9001) | 0;
    const lo = (rand() * 2 ** 32) >>> 0;
    const hi = i % 3 === 0 ? 0 : (rand() * 2 ** 32) >>> 0;
    const counter = (BigInt(hi) << 32n) | BigInt(lo);
    const ad = i % 4 === 0 ? randomBytes(rand, (rand() * 64) | 0) : new Uint8Array(0);
    const plain = randomBytes(rand, len);
    // Unaligned packet start, as in a real datagram buffer (after a 16-byte WireGuard header).
    const adPtr = aead.scratch(64 + len + AEAD_TAG_BYTES + 16) + 3;
    const ptr = adPtr + 64 + ((rand() * 16) | 0);
    aead.memory.set(ad, adPtr);
    aead.memory.set(plain, ptr);
    aead.seal(slot, lo, hi, ptr, len, adPtr, ad.length);
    const sealed = aead.memory.slice(ptr, ptr + len + AEAD_TAG_BYTES);
    assert.equal(toHex(sealed), toHex(nodeSeal(key, counter, plain, ad)), `case ${i} len ${len}`);
    assert.ok(aead.open(slot, lo, hi, ptr, len + AEAD_TAG_BYTES, adPtr, ad.length), `case ${i}`);
    assert.deepEqual(aead.memory.slice(ptr, ptr + len), plain, `case ${i}`);

    // Tamper with one byte of ciphertext, tag or AAD; or use the wrong counter.
    aead.memory.set(sealed, ptr);
    const where = (rand() * 3) | 0;
    let wrongLo = lo;
    if (where === 0 && len > 0) aead.memory[ptr + ((rand() * len) | 0)]! ^= 1 << ((rand() * 8) | 0);
    else if (where === 1 || len === 0) aead.memory[ptr + len + ((rand() * 16) | 0)]! ^= 0x80;
    else if (ad.length > 0) aead.memory[adPtr + ((rand() * ad.length) | 0)]! ^= 1;
    else wrongLo = (lo + 1) >>> 0;
    const before = aead.memory.slice(ptr, ptr + len + AEAD_TAG_BYTES);
    assert.equal(
      aead.open(slot, wrongLo, hi, ptr, len + AEAD_TAG_BYTES, adPtr, ad.length),
      false,
      `forgery accepted: case ${i}`,
    );
    assert.deepEqual(aead.memory.slice(ptr, ptr + len + AEAD_TAG_BYTES), before, "forgery touched");
  }
});

Deno.test("key slots are independent; clearKey zeroes one", () => {
  const aead = WasmAead.create();
  const k1 = new Uint8Array(32).fill(1), k2 = new Uint8Array(32).fill(2);
  aead.setKey(10, k1);
  aead.setKey(11, k2);
  const ptr = aead.scratch(64 + 16);
  aead.memory.fill(0x55, ptr, ptr + 64);
  aead.seal(10, 1, 0, ptr, 64);
  assert.equal(aead.open(11, 1, 0, ptr, 80), false);
  assert.ok(aead.open(10, 1, 0, ptr, 80));
  aead.clearKey(10);
  aead.seal(10, 1, 0, ptr, 64);
  assert.equal(
    toHex(aead.memory.slice(ptr, ptr + 80)),
    toHex(nodeSeal(new Uint8Array(32), 1n, new Uint8Array(64).fill(0x55), new Uint8Array(0))),
  );
});

Deno.test("sealMany/openMany match single calls and report each descriptor", () => {
  const rand = prng(7);
  const aead = WasmAead.create();
  aead.setKey(0, randomBytes(rand, 32));
  aead.setKey(1, randomBytes(rand, 32));
  const n = 40, stride = 1500;
  const base = aead.scratch(n * stride);
  const d = aead.batch;
  const plains: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = (rand() * (stride - 16)) | 0;
    plains.push(randomBytes(rand, len));
    aead.memory.set(plains[i]!, base + i * stride);
    d.set([i & 1, 1000 + i, i, base + i * stride, len, 99], i * DESCRIPTOR_WORDS);
  }
  assert.equal(aead.sealMany(n), n);
  for (let i = 0; i < n; i++) assert.equal(d[i * DESCRIPTOR_WORDS + 5], 0);
  // Compare against single-call seals on a second instance with the same keys.
  const ref = WasmAead.create();
  const rand2 = prng(7);
  ref.setKey(0, randomBytes(rand2, 32));
  ref.setKey(1, randomBytes(rand2, 32));
  const rp = ref.scratch(stride);
  for (let i = 0; i < n; i++) {
    const len = plains[i]!.length;
    ref.memory.set(plains[i]!, rp);
    ref.seal(i & 1, 1000 + i, i, rp, len);
    assert.deepEqual(
      aead.memory.slice(base + i * stride, base + i * stride + len + 16),
      ref.memory.slice(rp, rp + len + 16),
      `descriptor ${i}`,
    );
    d[i * DESCRIPTOR_WORDS + 4] = len + AEAD_TAG_BYTES;
  }
  // Forge descriptor 3, make descriptor 5 point outside scratch, make descriptor 7 too short.
  aead.memory[base + 3 * stride]! ^= 1;
  d[5 * DESCRIPTOR_WORDS + 3] = 0;
  d[7 * DESCRIPTOR_WORDS + 4] = 15;
  assert.equal(aead.openMany(n), n - 3);
  for (let i = 0; i < n; i++) {
    const status = d[i * DESCRIPTOR_WORDS + 5];
    if (i === 3) assert.equal(status, 0);
    else if (i === 5 || i === 7) assert.equal(status, 0xffffffff);
    else {
      assert.equal(status, 1);
      const len = plains[i]!.length;
      assert.deepEqual(aead.memory.slice(base + i * stride, base + i * stride + len), plains[i]);
    }
  }
});

Deno.test("bad arguments: seal throws RangeError, open returns false, keys stay out of reach", () => {
  const aead = WasmAead.create();
  aead.setKey(0, new Uint8Array(32).fill(9));
  const ptr = aead.scratch(100);
  assert.throws(() => aead.seal(0, 0, 0, 0, 16), RangeError); // address 0 is outside scratch
  assert.throws(() => aead.seal(0, 0, 0, ptr + aead.scratchCapacity - 20, 8), RangeError);
  assert.throws(() => aead.seal(aead.keySlots, 0, 0, ptr, 16), RangeError);
  assert.throws(() => aead.seal(0, 0, 0, ptr, 0xffffffff), RangeError);
  assert.throws(() => aead.seal(0, 0, 0, ptr, 16, 8, 4), RangeError); // AAD outside scratch
  assert.equal(aead.open(0, 0, 0, ptr, 15), false);
  assert.equal(aead.open(0, 0, 0, 0, 64), false);
  assert.equal(aead.open(0, 0, 0, ptr, 0xffffffff), false);
  assert.throws(() => aead.setKey(-1, new Uint8Array(32)), RangeError);
  assert.throws(() => aead.setKey(0, new Uint8Array(31)), RangeError);
  assert.throws(() => aead.scratch(aead.scratchCapacity + 1), RangeError);
  assert.throws(() => aead.sealWithNonce(0, new Uint8Array(8), ptr, 1), RangeError);
  // A seal at the very end of scratch is fine; one byte further is not.
  const end = ptr + aead.scratchCapacity;
  aead.seal(0, 0, 0, end - 32, 16);
  assert.throws(() => aead.seal(0, 0, 0, end - 31, 16), RangeError);
});

Deno.test("two instances have separate memories and key tables", () => {
  const a = WasmAead.create(), b = WasmAead.create();
  assert.notEqual(a.memory.buffer, b.memory.buffer);
  a.setKey(0, new Uint8Array(32).fill(1));
  const pa = a.scratch(48), pb = b.scratch(48);
  a.seal(0, 0, 0, pa, 32);
  b.seal(0, 0, 0, pb, 32); // b's slot 0 was never set: the all-zero key
  const zeros = new Uint8Array(32);
  assert.deepEqual(b.memory.slice(pb, pb + 48), nodeSeal(zeros, 0n, zeros, zeros.subarray(0, 0)));
  assert.notDeepEqual(a.memory.slice(pa, pa + 48), b.memory.slice(pb, pb + 48));
});

Deno.test("the embedded module matches its SHA-256 and loads with no permissions", async () => {
  const bytes = Uint8Array.from(atob(AEAD_WASM_BASE64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  assert.equal(toHex(digest), AEAD_WASM_SHA256);
  assert.equal(WebAssembly.Module.imports(new WebAssembly.Module(bytes)).length, 0);
  const code = `
    import { WasmAead } from ${
    JSON.stringify(new URL("../../src/wireguard/wasm_aead/mod.ts", import.meta.url).href)
  };
    const a = WasmAead.create();
    a.setKey(0, new Uint8Array(32));
    const p = a.scratch(32);
    a.seal(0, 1, 0, p, 16);
    console.log(a.open(0, 1, 0, p, 32) ? "ok" : "bad");
  `;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", "--no-check", code],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(new TextDecoder().decode(r.stdout).trim(), "ok", new TextDecoder().decode(r.stderr));
});

const clangMissing = (() => {
  try {
    return !new Deno.Command("clang-19", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return true;
  }
})();
if (clangMissing) console.log("wasm_aead_test: skipping the rebuild: clang-19 not installed");

Deno.test({
  name: "build.sh reproduces aead_wasm.ts byte for byte",
  ignore: clangMissing,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "aead-build-" });
    try {
      const script = new URL("../../src/wireguard/wasm_aead/build.sh", import.meta.url).pathname;
      const r = await new Deno.Command("bash", {
        args: [script],
        env: { NEWT_AEAD_OUT: out },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      assert.equal(
        await Deno.readTextFile(`${out}/aead_wasm.ts`),
        await Deno.readTextFile(
          new URL("../../src/wireguard/wasm_aead/aead_wasm.ts", import.meta.url),
        ),
        "rebuild differs from the committed aead_wasm.ts",
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
