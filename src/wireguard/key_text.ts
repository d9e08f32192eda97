/**
 * WireGuard key text: 32 bytes as standard base64, 44 characters ending in `=` — the form of
 * `wg genkey` / `wg pubkey` output and of wg-quick config files. Parsing is canonical only: the
 * text must be exactly what {@link formatKey} would produce for the decoded bytes, so two texts
 * never name the same key.
 *
 * @example
 * ```ts
 * import { formatKey, parseKey } from "./key_text.ts";
 * const text = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
 * if (formatKey(parseKey(text)) !== text) throw new Error();
 * ```
 * @module
 */

/** Size of a WireGuard key in bytes. */
export const KEY_LEN = 32;

/** Thrown by {@link parseKey} for text that is not a canonical base64 32-byte key. */
export class KeyFormatError extends Error {
  /** Creates the error; `reason` says what is wrong. */
  constructor(reason: string) {
    super(reason);
    this.name = "KeyFormatError";
  }
}

const KEY_RE = /^[A-Za-z0-9+/]{43}=$/;

/** Encodes 32 key bytes as 44 characters of base64. */
export function formatKey(key: Uint8Array): string {
  if (key.length !== KEY_LEN) throw new RangeError(`a key is ${KEY_LEN} bytes, got ${key.length}`);
  let bin = "";
  for (let i = 0; i < key.length; i++) bin += String.fromCharCode(key[i] as number);
  return btoa(bin);
}

/** Decodes key text to 32 bytes; throws {@link KeyFormatError} unless it is canonical base64. */
export function parseKey(text: string): Uint8Array {
  if (text.length !== 44) {
    throw new KeyFormatError(`key must be 44 characters of base64, got ${text.length}`);
  }
  if (!KEY_RE.test(text)) {
    throw new KeyFormatError("key must be base64 (A-Z a-z 0-9 + /) ending in a single '='");
  }
  const bin = atob(text);
  const key = new Uint8Array(KEY_LEN);
  for (let i = 0; i < KEY_LEN; i++) key[i] = bin.charCodeAt(i);
  // The last character carries 2 unused bits; non-zero ones make a second spelling of the key.
  if (formatKey(key) !== text) throw new KeyFormatError("key is not canonical base64");
  return key;
}
