/**
 * The cryptographic primitives of the WireGuard whitepaper (§5.4), one function each:
 * HASH, MAC, HMAC, KDF1..3, DH (X25519), AEAD (ChaCha20-Poly1305) and XAEAD (cookies).
 *
 * X25519 and ChaCha20-Poly1305 use `node:crypto` because its calls are synchronous: the handshake
 * state machine then never spans an `await`, so one owner can run it without locks.
 *
 * @module
 */
import { blake2s } from "@noble/hashes/blake2";
import { hmac } from "@noble/hashes/hmac";
import { xchacha20poly1305 } from "@noble/ciphers/chacha";
import nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";

/** Length of keys, hashes and DH outputs. */
export const KEY_LENGTH = 32;
/** Length of a Poly1305 tag. */
export const TAG_LENGTH = 16;

/** HASH(input): BLAKE2s with a 32-byte digest. */
export function hash(...inputs: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ dkLen: 32 });
  for (const i of inputs) h.update(i);
  return h.digest();
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte digest. */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: 16 });
}

/** HMAC(key, input) over BLAKE2s. */
export function hmacBlake2s(key: Uint8Array, input: Uint8Array): Uint8Array {
  return hmac(blake2s, key, input);
}

/** KDF_n(key, input) for n = 1..3: returns n 32-byte outputs (HKDF with HMAC-BLAKE2s). */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const prk = hmacBlake2s(key, input);
  const out: Uint8Array[] = [];
  let prev = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    const block = new Uint8Array(prev.length + 1);
    block.set(prev);
    block[prev.length] = i;
    prev = hmacBlake2s(prk, block) as Uint8Array<ArrayBuffer>;
    out.push(prev);
  }
  return out;
}

const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
/** DER prefixes that wrap a raw X25519 key as PKCS#8 (private) or SPKI (public), RFC 8410. */
const PKCS8_X25519_PREFIX = fromHex("302e020100300506032b656e04220420");
const SPKI_X25519_PREFIX = fromHex("302a300506032b656e032100");

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  const b = Buffer.alloc(prefix.length + key.length);
  b.set(prefix);
  b.set(key, prefix.length);
  return b;
}

/** A private key prepared once for repeated DH (parsing it costs as much as a DH). */
export type PreparedPrivateKey = nodeCrypto.KeyObject;

/** Prepares a raw 32-byte X25519 private key for {@linkcode dh}. */
export function preparePrivateKey(privateKey: Uint8Array): PreparedPrivateKey {
  if (privateKey.length !== KEY_LENGTH) throw new RangeError("private key must be 32 bytes");
  return nodeCrypto.createPrivateKey({
    key: der(PKCS8_X25519_PREFIX, privateKey),
    format: "der",
    type: "pkcs8",
  });
}

/** Clamps 32 random bytes into an X25519 private key, as `wg genkey` does. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(key);
  k[0]! &= 248;
  k[31]! = (k[31]! & 127) | 64;
  return k;
}

/** The X25519 public key of a raw private key. */
export function publicKeyOf(privateKey: Uint8Array | PreparedPrivateKey): Uint8Array {
  const priv = privateKey instanceof Uint8Array ? preparePrivateKey(privateKey) : privateKey;
  const spki = nodeCrypto.createPublicKey(priv).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - KEY_LENGTH));
}

/**
 * DH(private, public): X25519. Returns null where the result would be all zeros (a low-order
 * public key), which WireGuard must reject.
 */
export function dh(
  privateKey: Uint8Array | PreparedPrivateKey,
  publicKey: Uint8Array,
): Uint8Array | null {
  if (publicKey.length !== KEY_LENGTH) return null;
  const priv = privateKey instanceof Uint8Array ? preparePrivateKey(privateKey) : privateKey;
  try {
    const pub = nodeCrypto.createPublicKey({
      key: der(SPKI_X25519_PREFIX, publicKey),
      format: "der",
      type: "spki",
    });
    const out = new Uint8Array(nodeCrypto.diffieHellman({ privateKey: priv, publicKey: pub }));
    return isZero(out) ? null : out;
  } catch {
    return null; // low-order point: the derivation refuses an all-zero result
  }
}

/** Constant-time test for an all-zero buffer. */
export function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** Constant-time equality of two byte strings. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}

/** Writes the 96-bit AEAD nonce: 32 zero bits then the 64-bit little-endian counter. */
function nonceFor(counter: number | bigint, nonce: Uint8Array): Uint8Array {
  nonce.fill(0, 0, 4);
  const view = new DataView(nonce.buffer, nonce.byteOffset, 12);
  view.setBigUint64(4, BigInt(counter), true);
  return nonce;
}

const scratchNonce = Buffer.alloc(12);
const EMPTY = new Uint8Array(0);

/**
 * AEAD(key, counter, plain, authtext): ChaCha20-Poly1305 (RFC 8439). Writes ciphertext||tag into
 * `out` (length plain.length + 16) when given, so the transport path can encrypt in place of a
 * reused buffer.
 */
export function aeadEncrypt(
  key: Uint8Array,
  counter: number | bigint,
  plain: Uint8Array,
  authtext: Uint8Array = EMPTY,
  out: Uint8Array = new Uint8Array(plain.length + TAG_LENGTH),
): Uint8Array {
  const c = nodeCrypto.createCipheriv("chacha20-poly1305", key, nonceFor(counter, scratchNonce), {
    authTagLength: TAG_LENGTH,
  });
  if (authtext.length > 0) c.setAAD(authtext, { plaintextLength: plain.length });
  const body = c.update(plain);
  c.final();
  out.set(body);
  out.set(c.getAuthTag(), plain.length);
  return out;
}

/**
 * AEAD decryption. Returns the plaintext (written to `out` when given) or null if the tag does
 * not verify.
 */
export function aeadDecrypt(
  key: Uint8Array,
  counter: number | bigint,
  sealed: Uint8Array,
  authtext: Uint8Array = EMPTY,
  out?: Uint8Array,
): Uint8Array | null {
  if (sealed.length < TAG_LENGTH) return null;
  const bodyLen = sealed.length - TAG_LENGTH;
  try {
    const d = nodeCrypto.createDecipheriv(
      "chacha20-poly1305",
      key,
      nonceFor(counter, scratchNonce),
      { authTagLength: TAG_LENGTH },
    );
    if (authtext.length > 0) d.setAAD(authtext, { plaintextLength: bodyLen });
    d.setAuthTag(sealed.subarray(bodyLen));
    const body = d.update(sealed.subarray(0, bodyLen));
    d.final();
    if (out) {
      out.set(body);
      return out.subarray(0, bodyLen);
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  } catch {
    return null;
  }
}

/** XAEAD(key, nonce24, plain, authtext): XChaCha20-Poly1305, used for cookie replies. */
export function xaeadEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plain: Uint8Array,
  authtext: Uint8Array,
): Uint8Array {
  return xchacha20poly1305(key, nonce, authtext).encrypt(plain);
}

/** XAEAD decryption; null if the tag does not verify. */
export function xaeadDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  authtext: Uint8Array,
): Uint8Array | null {
  try {
    return xchacha20poly1305(key, nonce, authtext).decrypt(sealed);
  } catch {
    return null;
  }
}

/** Fills a new buffer with cryptographically secure random bytes. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
