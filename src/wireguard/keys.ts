/**
 * WireGuard keys: generation and the base64 text form that `wg genkey` / `wg pubkey` use.
 *
 * @module
 */
import { clampPrivateKey, KEY_LENGTH, publicKeyOf, randomBytes } from "./crypto.ts";
import { formatKey, KeyFormatError, parseKey } from "./key_text.ts";

/** A 32-byte key (private, public or preshared). */
export type Key = Uint8Array;

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
export const encodeKey: (key: Key) => string = formatKey;
/** Decodes base64 key text, accepting only the canonical 44-character form of 32 bytes. */
export const decodeKey: (text: string) => Key = parseKey;
export { KeyFormatError };
