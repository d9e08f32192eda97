/**
 * WireGuard message layouts (whitepaper §5.4.2–5.4.7) as named offsets over a byte buffer, with
 * exact size checks. Integers are little-endian.
 *
 * @module
 */
import { MessageSize, MessageType } from "./constants.ts";

/** Offsets in a handshake initiation (148 bytes). */
export const Initiation = {
  sender: 4,
  ephemeral: 8,
  static: 40,
  timestamp: 88,
  mac1: 116,
  mac2: 132,
  size: MessageSize.Initiation,
} as const;

/** Offsets in a handshake response (92 bytes). */
export const Response = {
  sender: 4,
  receiver: 8,
  ephemeral: 12,
  empty: 44,
  mac1: 60,
  mac2: 76,
  size: MessageSize.Response,
} as const;

/** Offsets in a cookie reply (64 bytes). */
export const CookieReply = {
  receiver: 4,
  nonce: 8,
  cookie: 32,
  size: MessageSize.CookieReply,
} as const;

/** Offsets in a transport data message header. */
export const Transport = {
  receiver: 4,
  counter: 8,
  payload: 16,
} as const;

/** Why a datagram was not a well-formed message (a drop reason). */
export type MessageError = "truncated" | "oversized" | "unknown-type" | "bad-size";

/**
 * The message type of a datagram after checking its size exactly (handshake messages) or its
 * minimum (transport), or the reason it is malformed.
 */
export function classifyMessage(b: Uint8Array): number | MessageError {
  if (b.length < 4) return "truncated";
  const type = b[0]!;
  // The three reserved bytes must be zero (wireguard-go reads the first 4 bytes as one LE word).
  if (b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return "unknown-type";
  switch (type) {
    case MessageType.Initiation:
      return b.length === MessageSize.Initiation ? type : "bad-size";
    case MessageType.Response:
      return b.length === MessageSize.Response ? type : "bad-size";
    case MessageType.CookieReply:
      return b.length === MessageSize.CookieReply ? type : "bad-size";
    case MessageType.Transport:
      return b.length >= MessageSize.TransportMinimum ? type : "truncated";
    default:
      return "unknown-type";
  }
}

/** Reads a little-endian uint32. */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Writes a little-endian uint32. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** Reads a little-endian uint64 counter as a number (exact below 2^53). */
export function readCounter(b: Uint8Array, off: number): number {
  return readU32(b, off) + readU32(b, off + 4) * 0x1_0000_0000;
}

/** Writes a counter (below 2^53) as a little-endian uint64. */
export function writeCounter(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off, v >>> 0);
  writeU32(b, off + 4, Math.floor(v / 0x1_0000_0000));
}

/** Starts a message of `size` bytes with its type byte set. */
export function newMessage(type: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b[0] = type;
  return b;
}
