/**
 * Known-answer test of a complete handshake with fixed keys, ephemerals and timestamp. The
 * expected transcript is computed here step by step from independent primitives (@noble for
 * BLAKE2s/HMAC/ChaCha20-Poly1305, WebCrypto for X25519), never by the code under test.
 */
import assert from "node:assert/strict";
import { blake2s } from "@noble/hashes/blake2";
import { hmac } from "@noble/hashes/hmac";
import { chacha20poly1305 } from "@noble/ciphers/chacha";
import {
  consumeInitiation,
  consumeResponse,
  createIdentity,
  createInitiation,
  createResponse,
  deriveSessionKeys,
  Handshake,
} from "../../src/wireguard/noise.ts";

const te = new TextEncoder();
const cat = (...a: Uint8Array[]) => {
  const out = new Uint8Array(a.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of a) (out.set(x, o), o += x.length);
  return out;
};
const H = (...a: Uint8Array[]) => blake2s(cat(...a));
const HMAC = (k: Uint8Array, m: Uint8Array) => hmac(blake2s, k, m);
function KDF(n: number, k: Uint8Array, x: Uint8Array): Uint8Array[] {
  const t0 = HMAC(k, x);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= n; i++) out.push(prev = HMAC(t0, cat(prev, new Uint8Array([i]))));
  return out;
}
const nonce0 = new Uint8Array(12);
const AEAD = (k: Uint8Array, p: Uint8Array, ad: Uint8Array) =>
  chacha20poly1305(k, nonce0, ad).encrypt(p);
const key = (seed: number): Uint8Array<ArrayBuffer> => {
  const k = new Uint8Array(32).map((_, i) => (i * 7 + seed) & 0xff);
  k[0]! &= 248;
  k[31]! = (k[31]! & 127) | 64;
  return k;
};
async function x25519(priv: Uint8Array, pub?: Uint8Array): Promise<Uint8Array> {
  const pk8 = cat(
    Uint8Array.from([0x30, 0x2e, 2, 1, 0, 0x30, 5, 6, 3, 0x2b, 0x65, 0x6e, 4, 0x22, 4, 0x20]),
    priv,
  );
  const k = await crypto.subtle.importKey("pkcs8", new Uint8Array(pk8), { name: "X25519" }, true, [
    "deriveBits",
  ]);
  if (!pub) {
    const x = (await crypto.subtle.exportKey("jwk", k)).x!;
    return Uint8Array.from(atob(x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  }
  const p = await crypto.subtle.importKey("raw", new Uint8Array(pub), { name: "X25519" }, true, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: p }, k, 256));
}
const le32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);

Deno.test("handshake transcript matches an independent step-by-step computation", async () => {
  const Si = key(1), Sr = key(2), Ei = key(3), Er = key(4);
  const psk = new Uint8Array(32).fill(0x42);
  const timestamp = Uint8Array.from([0x40, 0, 0, 0, 0x65, 0x43, 0x21, 0x00, 0, 0, 0, 0]);
  const SiPub = await x25519(Si),
    SrPub = await x25519(Sr),
    EiPub = await x25519(Ei),
    ErPub = await x25519(Er);

  // --- expected initiation (whitepaper §5.4.2) ---
  let C = H(te.encode("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"));
  let Hh = H(C, te.encode("WireGuard v1 zx2c4 Jason@zx2c4.com"));
  Hh = H(Hh, SrPub);
  [C] = KDF(1, C, EiPub) as [Uint8Array];
  Hh = H(Hh, EiPub);
  let k: Uint8Array;
  [C, k] = KDF(2, C, await x25519(Ei, SrPub)) as [Uint8Array, Uint8Array];
  const encStatic = AEAD(k, SiPub, Hh);
  Hh = H(Hh, encStatic);
  [C, k] = KDF(2, C, await x25519(Si, SrPub)) as [Uint8Array, Uint8Array];
  const encTs = AEAD(k, timestamp, Hh);
  Hh = H(Hh, encTs);
  const expectedInit = cat(
    Uint8Array.of(1, 0, 0, 0),
    le32(0x11223344),
    EiPub,
    encStatic,
    encTs,
    new Uint8Array(32),
  );

  // --- expected response (§5.4.3) ---
  [C] = KDF(1, C, ErPub) as [Uint8Array];
  Hh = H(Hh, ErPub);
  [C] = KDF(1, C, await x25519(Er, EiPub)) as [Uint8Array];
  [C] = KDF(1, C, await x25519(Er, SiPub)) as [Uint8Array];
  let tau: Uint8Array;
  [C, tau, k] = KDF(3, C, psk) as [Uint8Array, Uint8Array, Uint8Array];
  Hh = H(Hh, tau);
  const encEmpty = AEAD(k, new Uint8Array(0), Hh);
  const expectedResp = cat(
    Uint8Array.of(2, 0, 0, 0),
    le32(0x55667788),
    le32(0x11223344),
    ErPub,
    encEmpty,
    new Uint8Array(32),
  );
  const [Tsend, Trecv] = KDF(2, C, new Uint8Array(0)) as [Uint8Array, Uint8Array];

  // --- the code under test ---
  const initiator = createIdentity(Si), responder = createIdentity(Sr);
  const hsI = new Handshake(initiator, responder.publicKey, psk);
  const hsR = new Handshake(responder, initiator.publicKey, psk);
  const init = createInitiation(hsI, 0x11223344, timestamp, Ei)!;
  assert.deepEqual(init, expectedInit);

  const consumed = consumeInitiation(
    responder,
    init,
    (s) =>
      s.every((b, i) => b === initiator.publicKey[i]) ? { peer: "I", handshake: hsR } : undefined,
    0,
    50,
  );
  assert.ok(consumed.ok);
  const resp = createResponse(hsR, 0x55667788, Er)!;
  assert.deepEqual(resp, expectedResp);

  const got = consumeResponse(
    initiator,
    resp,
    (i) => i === 0x11223344 ? { peer: "R", handshake: hsI } : undefined,
  );
  assert.ok(got.ok);
  const kI = deriveSessionKeys(hsI)!, kR = deriveSessionKeys(hsR)!;
  assert.deepEqual(kI.send, Tsend);
  assert.deepEqual(kI.receive, Trecv);
  assert.deepEqual(kR.send, Trecv);
  assert.deepEqual(kR.receive, Tsend);
  assert.equal(kI.isInitiator, true);
  assert.equal(kR.isInitiator, false);
  assert.equal(kI.remoteIndex, 0x55667788);
  assert.equal(kR.remoteIndex, 0x11223344);
});

Deno.test("responder rejects replayed timestamps, floods, unknown peers and tampering", () => {
  const a = createIdentity(key(10)),
    b = createIdentity(key(11)),
    stranger = createIdentity(key(12));
  const hsA = new Handshake(a, b.publicKey);
  const hsB = new Handshake(b, a.publicKey);
  const find = (s: Uint8Array) =>
    s.every((x, i) => x === a.publicKey[i]) ? { peer: 1, handshake: hsB } : undefined;
  const ts1 = Uint8Array.of(0x40, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0);
  const ts2 = Uint8Array.of(0x40, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0);
  const m1 = createInitiation(hsA, 1, ts1)!;
  assert.ok(consumeInitiation(b, m1, find, 1000, 50).ok);
  // The same message again: its timestamp is not newer.
  assert.deepEqual(consumeInitiation(b, m1, find, 2000, 50), {
    ok: false,
    reason: "replayed-timestamp",
  });
  // A newer initiation within 50 ms of the last accepted one is a flood.
  const m2 = createInitiation(hsA, 2, ts2)!;
  assert.deepEqual(consumeInitiation(b, m2, find, 1010, 50), {
    ok: false,
    reason: "initiation-flood",
  });
  assert.ok(consumeInitiation(b, m2, find, 1100, 50).ok);
  // From a key the responder does not know.
  const hsS = new Handshake(stranger, b.publicKey);
  const m3 = createInitiation(hsS, 3, ts2)!;
  assert.deepEqual(consumeInitiation(b, m3, find, 5000, 50), { ok: false, reason: "unknown-peer" });
  // Any flipped bit in the encrypted parts fails.
  const m4 = createInitiation(hsA, 4, Uint8Array.of(0x40, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0))!;
  m4[50]! ^= 1;
  assert.deepEqual(consumeInitiation(b, m4, find, 9000, 50), {
    ok: false,
    reason: "decrypt-static",
  });
  // A response to an index that has no pending initiation.
  const resp = createResponse(hsB, 77)!;
  assert.deepEqual(consumeResponse(a, resp, () => undefined), {
    ok: false,
    reason: "unknown-index",
  });
});
