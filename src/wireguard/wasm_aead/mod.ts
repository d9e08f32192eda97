/**
 * ChaCha20-Poly1305 (RFC 8439) in WebAssembly for the transport data path: keys sit in a slot
 * table inside the module's memory (set once per keypair), packets are sealed and opened in place
 * in a scratch region of the same memory, so a packet costs one call and no allocation — where
 * `node:crypto` spends ~5 µs per call on cipher setup alone (DESIGN.md, "Data-path facts").
 *
 * The C source (chacha20poly1305.c) is freestanding and links into other modules too, e.g. the
 * netstack's, to decrypt straight into the memory lwIP reads.
 *
 * @example Seal and open a packet in place
 * ```ts
 * import assert from "node:assert/strict";
 * import { WasmAead } from "./mod.ts";
 *
 * const aead = WasmAead.create();
 * aead.setKey(0, new Uint8Array(32).fill(7));
 * const ptr = aead.scratch(5 + 16);
 * aead.memory.set(new TextEncoder().encode("hello"), ptr);
 * aead.seal(0, 1, 0, ptr, 5); // counter 1: ciphertext at ptr, tag at ptr + 5
 * assert.ok(aead.open(0, 1, 0, ptr, 5 + 16));
 * assert.equal(new TextDecoder().decode(aead.memory.subarray(ptr, ptr + 5)), "hello");
 * ```
 * @module
 */
import { AEAD_WASM_BASE64 } from "./aead_wasm.ts";

/** Bytes of a ChaCha20-Poly1305 key. */
export const AEAD_KEY_BYTES = 32;
/** Bytes of the Poly1305 tag that follows each ciphertext. */
export const AEAD_TAG_BYTES = 16;
/** 32-bit words per batch descriptor: slot, counter low, counter high, ptr, len, status. */
export const DESCRIPTOR_WORDS = 6;

/** The functions aead.wasm exports (see aead_module.c). */
interface AeadExports {
  memory: WebAssembly.Memory;
  key_table(): number;
  key_slots(): number;
  scratch_ptr(): number;
  scratch_size(): number;
  batch_ptr(): number;
  batch_max(): number;
  seal(
    slot: number,
    lo: number,
    hi: number,
    ptr: number,
    len: number,
    ad: number,
    adLen: number,
  ): number;
  open(
    slot: number,
    lo: number,
    hi: number,
    ptr: number,
    len: number,
    ad: number,
    adLen: number,
  ): number;
  seal_nonce(
    slot: number,
    n0: number,
    n1: number,
    n2: number,
    ptr: number,
    len: number,
    ad: number,
    adLen: number,
  ): number;
  open_nonce(
    slot: number,
    n0: number,
    n1: number,
    n2: number,
    ptr: number,
    len: number,
    ad: number,
    adLen: number,
  ): number;
  seal_many(count: number): number;
  open_many(count: number): number;
  block(slot: number, counter: number, n0: number, n1: number, n2: number, out: number): number;
  poly1305(key: number, msg: number, len: number, tag: number): number;
  xor(
    slot: number,
    counter: number,
    n0: number,
    n1: number,
    n2: number,
    ptr: number,
    len: number,
  ): number;
}

let compiled: WebAssembly.Module | undefined;

/** Compiles the embedded module once per process, synchronously (it is ~15 KB). */
function aeadModule(): WebAssembly.Module {
  if (!compiled) {
    const bin = atob(AEAD_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

function nonceWords(nonce: Uint8Array): [number, number, number] {
  if (nonce.length !== 12) throw new RangeError("nonce must be 12 bytes");
  const v = new DataView(nonce.buffer, nonce.byteOffset, 12);
  return [v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)];
}

/**
 * One ChaCha20-Poly1305 engine: its own fixed 2 MiB of wasm memory holding a key-slot table,
 * one scratch region and a batch descriptor table. Not shared between threads; make one per
 * Worker. All pointers are offsets into {@linkcode WasmAead.memory} and must lie inside the
 * scratch region.
 */
export class WasmAead {
  /** A view of the module's whole memory (fixed size: it never grows, so never detaches). */
  readonly memory: Uint8Array;
  /** Number of key slots (0 .. keySlots-1). */
  readonly keySlots: number;
  /** Bytes in the scratch region. */
  readonly scratchCapacity: number;
  /**
   * Batch descriptors for {@linkcode WasmAead.sealMany} / {@linkcode WasmAead.openMany}:
   * descriptor i is words [6i .. 6i+5] = slot, counter low, counter high, ptr, len, status.
   */
  readonly batch: Uint32Array;
  /** Most descriptors one batch call processes. */
  readonly batchCapacity: number;
  readonly #x: AeadExports;
  readonly #keyTable: number;
  readonly #scratch: number;

  private constructor(x: AeadExports) {
    this.#x = x;
    this.memory = new Uint8Array(x.memory.buffer);
    this.keySlots = x.key_slots();
    this.#keyTable = x.key_table();
    this.#scratch = x.scratch_ptr();
    this.scratchCapacity = x.scratch_size();
    this.batchCapacity = x.batch_max();
    this.batch = new Uint32Array(
      x.memory.buffer,
      x.batch_ptr(),
      this.batchCapacity * DESCRIPTOR_WORDS,
    );
  }

  /** Instantiates the embedded module synchronously; needs no permission. */
  static create(): WasmAead {
    const instance = new WebAssembly.Instance(aeadModule(), {});
    return new WasmAead(instance.exports as unknown as AeadExports);
  }

  /** Offset of this instance's scratch region (always the same one), which holds >= `len` bytes. */
  scratch(len: number): number {
    if (!(len >= 0 && len <= this.scratchCapacity)) {
      throw new RangeError(`scratch holds ${this.scratchCapacity} bytes, asked for ${len}`);
    }
    return this.#scratch;
  }

  /** Stores a 32-byte key in `slot` (once per keypair; packets then name the slot). */
  setKey(slot: number, key: Uint8Array): void {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError("key must be 32 bytes");
    this.memory.set(key, this.#slotOffset(slot));
  }

  /** Zeroes the key in `slot` (when its keypair expires). */
  clearKey(slot: number): void {
    const at = this.#slotOffset(slot);
    this.memory.fill(0, at, at + AEAD_KEY_BYTES);
  }

  /**
   * Encrypts memory[ptr, ptr+len) in place under WireGuard's nonce (32 zero bits, then the
   * 64-bit counter `counterHi:counterLo` little-endian) and writes the tag at ptr+len.
   * Authenticates memory[adPtr, adPtr+adLen) too. Throws RangeError if a region leaves scratch.
   */
  seal(
    slot: number,
    counterLo: number,
    counterHi: number,
    ptr: number,
    len: number,
    adPtr = 0,
    adLen = 0,
  ): void {
    if (this.#x.seal(slot, counterLo, counterHi, ptr, len, adPtr, adLen) !== 0) {
      throw new RangeError("seal: slot or region outside the key table / scratch");
    }
  }

  /**
   * Verifies and decrypts memory[ptr, ptr+len) in place, `len` including the 16-byte tag; the
   * plaintext is then memory[ptr, ptr+len-16). False — buffer untouched — when the tag does not
   * verify, `len` < 16, or a region leaves scratch: bad input never throws.
   */
  open(
    slot: number,
    counterLo: number,
    counterHi: number,
    ptr: number,
    len: number,
    adPtr = 0,
    adLen = 0,
  ): boolean {
    return this.#x.open(slot, counterLo, counterHi, ptr, len, adPtr, adLen) === 1;
  }

  /** {@linkcode WasmAead.seal} with any 12-byte RFC 8439 nonce (handshake-style use, tests). */
  sealWithNonce(
    slot: number,
    nonce: Uint8Array,
    ptr: number,
    len: number,
    adPtr = 0,
    adLen = 0,
  ): void {
    const [n0, n1, n2] = nonceWords(nonce);
    if (this.#x.seal_nonce(slot, n0, n1, n2, ptr, len, adPtr, adLen) !== 0) {
      throw new RangeError("seal: slot or region outside the key table / scratch");
    }
  }

  /** {@linkcode WasmAead.open} with any 12-byte RFC 8439 nonce. */
  openWithNonce(
    slot: number,
    nonce: Uint8Array,
    ptr: number,
    len: number,
    adPtr = 0,
    adLen = 0,
  ): boolean {
    const [n0, n1, n2] = nonceWords(nonce);
    return this.#x.open_nonce(slot, n0, n1, n2, ptr, len, adPtr, adLen) === 1;
  }

  /**
   * Seals descriptors 0..count-1 of {@linkcode WasmAead.batch} in one call (status word 0, or
   * 0xffffffff for a bad descriptor). Returns how many were sealed.
   */
  sealMany(count: number): number {
    return this.#x.seal_many(count);
  }

  /**
   * Opens descriptors 0..count-1 of {@linkcode WasmAead.batch} in one call (len includes the
   * tag; status word 1 authentic, 0 forged, 0xffffffff bad descriptor). Returns how many
   * authenticated.
   */
  openMany(count: number): number {
    return this.#x.open_many(count);
  }

  /** RFC 8439 §2.3: one 64-byte ChaCha20 block (a copy; for known-answer tests). */
  chacha20Block(slot: number, counter: number, nonce: Uint8Array): Uint8Array {
    const [n0, n1, n2] = nonceWords(nonce);
    const out = this.scratch(64);
    if (this.#x.block(slot, counter, n0, n1, n2, out) !== 0) throw new RangeError("bad slot");
    return this.memory.slice(out, out + 64);
  }

  /** RFC 8439 §2.4: XORs the keystream from block `counter` into memory[ptr, ptr+len). */
  xorKeystream(slot: number, counter: number, nonce: Uint8Array, ptr: number, len: number): void {
    const [n0, n1, n2] = nonceWords(nonce);
    if (this.#x.xor(slot, counter, n0, n1, n2, ptr, len) !== 0) {
      throw new RangeError("xor: slot or region outside the key table / scratch");
    }
  }

  /** RFC 8439 §2.5: the Poly1305 tag of `msg` under a one-time 32-byte key (uses scratch). */
  poly1305(key: Uint8Array, msg: Uint8Array): Uint8Array {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError("key must be 32 bytes");
    const base = this.scratch(48 + msg.length);
    this.memory.set(key, base);
    this.memory.set(msg, base + 48);
    this.#x.poly1305(base, base + 48, msg.length, base + 32);
    return this.memory.slice(base + 32, base + 48);
  }

  #slotOffset(slot: number): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.keySlots) {
      throw new RangeError(`key slot ${slot} outside 0..${this.keySlots - 1}`);
    }
    return this.#keyTable + slot * AEAD_KEY_BYTES;
  }
}
