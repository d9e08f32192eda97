/**
 * Transport-message crypto for the data path. Keys live in slots inside a WebAssembly
 * ChaCha20-Poly1305 (wasm_aead/, ~2.4 µs per 1420-byte packet against ~7 µs for node:crypto,
 * whose cost is mostly fixed per call); a packet is copied into wasm memory once, sealed or
 * opened in place, and read straight out of it. When every slot is taken (8192 slots = 4096
 * keypairs) or `node` is asked for, keys fall back to node:crypto with the same results.
 *
 * @module
 */
import { aeadDecrypt, aeadEncrypt, TAG_LENGTH } from "./crypto.ts";
import { WasmAead } from "./wasm_aead/mod.ts";

/** Which implementation seals and opens transport messages. */
export type TransportCrypto = "wasm" | "node";

/** A key installed for transport use. */
export interface TransportKey {
  /** The raw key (kept for the node:crypto path). */
  readonly key: Uint8Array;
  /** Its wasm slot, or -1 on the node:crypto path. */
  readonly slot: number;
}

const TWO_32 = 0x1_0000_0000;

/** Seals and opens transport payloads; one per device. */
export class TransportAead {
  #wasm: WasmAead | null;
  #free: number[] = [];

  /** Creates the AEAD; `"node"` skips the wasm module. */
  constructor(kind: TransportCrypto = "wasm") {
    this.#wasm = kind === "wasm" ? WasmAead.create() : null;
    if (this.#wasm) { for (let s = this.#wasm.keySlots - 1; s >= 0; s--) this.#free.push(s); }
  }

  /** Installs a key (a keypair's send or receive key). */
  install(key: Uint8Array): TransportKey {
    const slot = this.#free.pop();
    if (slot === undefined || !this.#wasm) return { key, slot: -1 };
    this.#wasm.setKey(slot, key);
    return { key, slot };
  }

  /** Erases a key and frees its slot. */
  release(k: TransportKey): void {
    if (k.slot < 0 || !this.#wasm) return;
    this.#wasm.clearKey(k.slot);
    this.#free.push(k.slot);
  }

  /** Free wasm key slots. */
  get freeSlots(): number {
    return this.#free.length;
  }

  /**
   * Encrypts `plain` (already padded) into `out` (plain.length + 16 bytes: ciphertext || tag).
   * `plain` and `out` may overlap at the same offset.
   */
  seal(k: TransportKey, counter: number, plain: Uint8Array, out: Uint8Array): void {
    const w = this.#wasm;
    if (k.slot < 0 || !w) {
      aeadEncrypt(k.key, counter, plain, undefined, out);
      return;
    }
    const ptr = w.scratch(plain.length + TAG_LENGTH);
    w.memory.set(plain, ptr);
    w.seal(k.slot, counter >>> 0, Math.floor(counter / TWO_32), ptr, plain.length);
    out.set(w.memory.subarray(ptr, ptr + plain.length + TAG_LENGTH));
  }

  /**
   * Builds a whole sealed message in wasm memory, for a socket that copies on send: `packet` is
   * copied once to `headerBytes` past the start, zero-padded to `padded` bytes and sealed in
   * place. Returns the view (header left for the caller to write, then ciphertext, tag), valid
   * until the next call; null on the node:crypto path (use {@linkcode TransportAead.seal}).
   * Against seal() into a message buffer this saves two copies and two views per packet.
   */
  sealMessage(
    k: TransportKey,
    counter: number,
    packet: Uint8Array,
    padded: number,
    headerBytes: number,
  ): Uint8Array | null {
    const w = this.#wasm;
    if (k.slot < 0 || !w) return null;
    const size = headerBytes + padded + TAG_LENGTH;
    const base = w.scratch(size);
    const ptr = base + headerBytes;
    const mem = w.memory;
    mem.set(packet, ptr);
    mem.fill(0, ptr + packet.length, ptr + padded);
    w.seal(k.slot, counter >>> 0, Math.floor(counter / TWO_32), ptr, padded);
    return mem.subarray(base, base + size);
  }

  /**
   * Decrypts `sealed` (ciphertext || tag). Returns the plaintext as a view valid until the next
   * call (in wasm memory, or in `spare` on the node:crypto path), or null if the tag is wrong.
   */
  open(k: TransportKey, counter: number, sealed: Uint8Array, spare: Uint8Array): Uint8Array | null {
    const w = this.#wasm;
    if (k.slot < 0 || !w) return aeadDecrypt(k.key, counter, sealed, undefined, spare);
    if (sealed.length < TAG_LENGTH) return null;
    const ptr = w.scratch(sealed.length);
    w.memory.set(sealed, ptr);
    if (!w.open(k.slot, counter >>> 0, Math.floor(counter / TWO_32), ptr, sealed.length)) {
      return null;
    }
    return w.memory.subarray(ptr, ptr + sealed.length - TAG_LENGTH);
  }
}
