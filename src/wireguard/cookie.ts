/**
 * MAC1/MAC2 and cookie replies (whitepaper §5.4.4, §5.4.7): the responder's {@linkcode CookieChecker}
 * and the initiator-side, per-peer {@linkcode CookieGenerator}.
 *
 * @module
 */
import { equalBytes, hash, mac, randomBytes, xaeadDecrypt, xaeadEncrypt } from "./crypto.ts";
import { COOKIE_REFRESH_TIME, LABEL_COOKIE, LABEL_MAC1, MessageType } from "./constants.ts";
import { CookieReply, newMessage, readU32, writeU32 } from "./messages.ts";
import type { Key } from "./keys.ts";

const enc = new TextEncoder();

function macOffsets(msg: Uint8Array): { mac1: number; mac2: number } {
  return { mac1: msg.length - 32, mac2: msg.length - 16 };
}

/** The two keys derived from a public key for MAC1 and cookie encryption. */
function cookieKeys(publicKey: Key): { mac1Key: Uint8Array; cookieKey: Uint8Array } {
  return {
    mac1Key: hash(enc.encode(LABEL_MAC1), publicKey),
    cookieKey: hash(enc.encode(LABEL_COOKIE), publicKey),
  };
}

/** Responder side: validates MAC1/MAC2 of incoming handshakes and makes cookie replies. */
export class CookieChecker {
  #mac1Key: Uint8Array;
  #cookieKey: Uint8Array;
  #secret: Uint8Array = new Uint8Array(32);
  #secretSet = -Infinity;

  /** Creates a checker for our public key; `now` is the device clock (ms). */
  constructor(localPublicKey: Key, private readonly now: () => number) {
    ({ mac1Key: this.#mac1Key, cookieKey: this.#cookieKey } = cookieKeys(localPublicKey));
  }

  /** Whether the message's MAC1 is right (always required). */
  checkMac1(msg: Uint8Array): boolean {
    const o = macOffsets(msg);
    return equalBytes(mac(this.#mac1Key, msg.subarray(0, o.mac1)), msg.subarray(o.mac1, o.mac2));
  }

  /** Whether the message's MAC2 proves a cookie for `source` (address bytes + port) still valid. */
  checkMac2(msg: Uint8Array, source: Uint8Array): boolean {
    if (this.now() - this.#secretSet > COOKIE_REFRESH_TIME) return false;
    const cookie = mac(this.#secret, source);
    const o = macOffsets(msg);
    return equalBytes(mac(cookie, msg.subarray(0, o.mac2)), msg.subarray(o.mac2));
  }

  /** Makes a cookie reply to `msg` (whose sender index is at offset 4) from `source`. */
  createReply(msg: Uint8Array, source: Uint8Array): Uint8Array {
    const t = this.now();
    if (t - this.#secretSet > COOKIE_REFRESH_TIME) {
      this.#secret = randomBytes(32);
      this.#secretSet = t;
    }
    const cookie = mac(this.#secret, source);
    const reply = newMessage(MessageType.CookieReply, CookieReply.size);
    writeU32(reply, CookieReply.receiver, readU32(msg, 4));
    const nonce = randomBytes(24);
    reply.set(nonce, CookieReply.nonce);
    const o = macOffsets(msg);
    reply.set(
      xaeadEncrypt(this.#cookieKey, nonce, cookie, msg.subarray(o.mac1, o.mac2)),
      CookieReply.cookie,
    );
    return reply;
  }
}

/** Initiator side, one per peer: fills MAC1/MAC2 and keeps the cookie the peer sent us. */
export class CookieGenerator {
  #mac1Key: Uint8Array;
  #cookieKey: Uint8Array;
  #cookie: Uint8Array | null = null;
  #cookieSet = -Infinity;
  #lastMac1: Uint8Array | null = null;

  /** Creates a generator for the peer's public key; `now` is the device clock (ms). */
  constructor(peerPublicKey: Key, private readonly now: () => number) {
    ({ mac1Key: this.#mac1Key, cookieKey: this.#cookieKey } = cookieKeys(peerPublicKey));
  }

  /** Writes MAC1, and MAC2 when we hold a fresh cookie, into an outgoing handshake message. */
  addMacs(msg: Uint8Array): void {
    const o = macOffsets(msg);
    const m1 = mac(this.#mac1Key, msg.subarray(0, o.mac1));
    msg.set(m1, o.mac1);
    this.#lastMac1 = m1;
    if (this.#cookie && this.now() - this.#cookieSet <= COOKIE_REFRESH_TIME) {
      msg.set(mac(this.#cookie, msg.subarray(0, o.mac2)), o.mac2);
    } else {
      msg.fill(0, o.mac2);
    }
  }

  /** Consumes a cookie reply for our last message; false if it does not decrypt. */
  consumeReply(reply: Uint8Array): boolean {
    if (!this.#lastMac1) return false;
    const cookie = xaeadDecrypt(
      this.#cookieKey,
      reply.subarray(CookieReply.nonce, CookieReply.cookie),
      reply.subarray(CookieReply.cookie),
      this.#lastMac1,
    );
    if (!cookie) return false;
    this.#cookie = cookie;
    this.#cookieSet = this.now();
    return true;
  }
}
