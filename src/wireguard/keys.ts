/**
 * WireGuard keys: generation and the base64 text form that `wg genkey` / `wg pubkey` use.
 *
 * @module
 */
import { clampPrivateKey, KEY_LENGTH, publicKeyOf, randomBytes } from "./crypto.ts";

/** A 32-byte key (private, public or preshared). */
export type Key = Uint8Array;

/** Thrown for key text that is not 32 bytes of canonical base64. */
export class KeyFormatError extends Error {
  /** Creates the error for a bad key text. */
  constructor(message: string) {
    super(message);
    this.name = "KeyFormatError";
  }
}

/** Generates a clamped X25519 private key, as `wg genkey`. */
export function generatePrivateKey(): Key {
  return clampPrivateKey(randomBytes(KEY_LENGTH));
}

/** Generates a random preshared key, as `wg genpsk`. */
export function generatePresharedKey(): Key {
  return randomBytes(KEY_LENGTH);
}

/** The public key of a private key, as `wg pubkey`. */
export function publicKey(privateKey: Key): Key {
  return publicKeyOf(privateKey);
}

/** Encodes a 32-byte key as base64 (44 characters), the form wg-quick files use. */
export function encodeKey(key: Key): string {
  if (key.length !== KEY_LENGTH) throw new KeyFormatError("a key is 32 bytes");
  let s = "";
  for (const b of key) s += String.fromCharCode(b);
  return btoa(s);
}

/** Decodes base64 key text, accepting only the canonical 44-character form of 32 bytes. */
export function decodeKey(text: string): Key {
  const t = text.trim();
  if (t.length !== 44 || !/^[A-Za-z0-9+/]{43}=$/.test(t)) {
    throw new KeyFormatError("a key is 44 characters of base64 (32 bytes)");
  }
  const bin = atob(t);
  const key = new Uint8Array(KEY_LENGTH);
  for (let i = 0; i < KEY_LENGTH; i++) key[i] = bin.charCodeAt(i);
  if (encodeKey(key) !== t) throw new KeyFormatError("key base64 is not canonical");
  return key;
}
