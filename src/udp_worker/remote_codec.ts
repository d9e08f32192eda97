/**
 * Addresses cross the ring as 16 bytes + family + port, never as text, and each side caches so
 * the hot path neither parses nor formats an IP string per datagram: a run of datagrams from one
 * peer reuses one {@link UdpRemote} object, and a destination string is parsed once.
 *
 * @module
 */

import type { UdpRemote } from "../udp_socket.ts";
import { formatIp, isV4Mapped, tryParseIp } from "../wire/ip_address.ts";
import type { RecordFamily } from "./ring.ts";
import { BoundedCache } from "../bounded_cache.ts";

/** An address as ring words: the family and 4 words of bytes (IPv4 in the first word). */
export interface AddressWords {
  /** 4 or 6. */
  readonly family: RecordFamily;
  /** 16 address bytes viewed as 4 words (bytes beyond an IPv4 address are zero). */
  readonly words: Int32Array;
}

/** Most distinct address strings an {@link AddressEncoder} remembers before starting over. */
export const ADDRESS_CACHE_LIMIT = 256;

/** Parses address text into {@link AddressWords}, remembering recent answers. */
export class AddressEncoder {
  readonly #cache = new BoundedCache<string, AddressWords | null>(ADDRESS_CACHE_LIMIT);
  #lastText = "";
  #last: AddressWords | null = null;

  /** The address's words, or null when `text` is no IP address. */
  encode(text: string): AddressWords | null {
    if (text === this.#lastText) return this.#last;
    let hit = this.#cache.get(text);
    if (hit === undefined) {
      hit = parseAddressWords(text);
      this.#cache.set(text, hit);
    }
    this.#lastText = text;
    this.#last = hit;
    return hit;
  }
}

/** Parses IPv4 or IPv6 text into {@link AddressWords}; null if it is neither. */
export function parseAddressWords(text: string): AddressWords | null {
  const bytes = tryParseIp(text);
  if (bytes === undefined) return null;
  const padded = new Uint8Array(16);
  padded.set(bytes);
  return { family: bytes.length === 4 ? 4 : 6, words: new Int32Array(padded.buffer) };
}

/**
 * Turns record header words back into a {@link UdpRemote}, returning the same object while the
 * sender stays the same. Callers must treat the object as read-only.
 */
export class RemoteDecoder {
  readonly #last = new Int32Array(5);
  #remote: UdpRemote | null = null;

  /**
   * `meta` as {@link DatagramRing.shiftInto} fills it: `[length, port | family << 16, a0..a3]`.
   * IPv4-mapped IPv6 is reported as IPv4 (as `UdpSocket` does).
   */
  decode(meta: Int32Array): UdpRemote {
    const last = this.#last;
    if (
      this.#remote !== null && meta[1] === last[0] && meta[2] === last[1] &&
      meta[3] === last[2] && meta[4] === last[3] && meta[5] === last[4]
    ) {
      return this.#remote;
    }
    for (let i = 0; i < 5; i++) last[i] = meta[i + 1]!;
    const portFamily = meta[1]!;
    const words = new Int32Array(4);
    for (let i = 0; i < 4; i++) words[i] = meta[i + 2]!;
    const bytes = new Uint8Array(words.buffer);
    let address: string;
    if ((portFamily >>> 16) === 4) address = formatIp(bytes.subarray(0, 4));
    else if (isV4Mapped(bytes)) address = formatIp(bytes.subarray(12, 16));
    else address = formatIp(bytes);
    this.#remote = { address, port: portFamily & 0xffff };
    return this.#remote;
  }
}
