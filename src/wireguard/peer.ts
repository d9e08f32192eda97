/**
 * A WireGuard peer and its send path (wireguard-go's `peer.go` + `send.go`).
 *
 * Outbound flow:
 *  1. `send(packet)` — the device routed an IP packet here by AllowedIPs.
 *  2. With a usable current keypair it is encrypted and sent at once; otherwise it is staged
 *     (bounded, oldest dropped) and a handshake initiation goes out.
 *  3. A completed handshake calls `sendStaged()`, which flushes the stage or sends a keepalive.
 *  4. After each send, `keepKeyFreshSending` starts a rekey when the keypair is old.
 *
 * @module
 */
import { CookieGenerator } from "./cookie.ts";
import {
  KEEPALIVE_TIMEOUT,
  MAX_STAGED_PACKETS,
  MessageSize,
  MessageType,
  PADDING_MULTIPLE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_TIMEOUT,
} from "./constants.ts";
import { TAG_LENGTH } from "./crypto.ts";
import { Keypair, Keypairs } from "./keypair.ts";
import { newMessage, Transport, writeCounter, writeU32 } from "./messages.ts";
import { createInitiation, createResponse, deriveSessionKeys, Handshake } from "./noise.ts";
import { PeerTimers, type TimerActions } from "./timers.ts";
import { tai64nNow } from "./tai64n.ts";
import type { Key } from "./keys.ts";
import type { Device } from "./device.ts";
import type { UdpRemote } from "../udp_socket.ts";

/** Traffic counters of one peer. */
export interface PeerStats {
  /** Bytes of UDP payload received from the peer (authenticated). */
  rxBytes: number;
  /** Transport messages received from the peer (authenticated, not replays; keepalives too). */
  rxMessages: number;
  /**
   * Transport messages the peer numbered but that had not arrived when a later one did (counter
   * gaps): lost on the way, dropped by this host's socket buffer, or merely reordered.
   * `rxGaps - rxLate` is what never arrived.
   */
  rxGaps: number;
  /** Messages that arrived after a later one (each filled one counted gap). */
  rxLate: number;
  /** Bytes of UDP payload sent to the peer. */
  txBytes: number;
  /** Wall-clock ms of the last completed handshake, or 0. */
  lastHandshake: number;
  /** Handshakes completed. */
  handshakes: number;
  /** Packets dropped from the staging queue because it was full. */
  stagedDropped: number;
}

/** Messages the peer sent that never arrived: counter gaps not filled by a late arrival. */
export function rxLost(stats: PeerStats): number {
  return stats.rxGaps - stats.rxLate;
}

/** One remote peer: keys, endpoint, handshake and timers. */
export class Peer implements TimerActions {
  /** Handshake state. */
  readonly handshake: Handshake;
  /** MAC/cookie state for messages we send to this peer. */
  readonly cookies: CookieGenerator;
  /** Transport keypairs. */
  readonly keypairs: Keypairs = new Keypairs();
  /** Protocol timers. */
  readonly timers: PeerTimers;
  /** Where to send; follows the last authenticated packet (roaming). */
  endpoint: UdpRemote | null;
  /** Persistent keepalive interval (s), 0 = off. */
  persistentKeepalive: number;
  /** Counters. */
  readonly stats: PeerStats = {
    rxBytes: 0,
    rxMessages: 0,
    rxGaps: 0,
    rxLate: 0,
    txBytes: 0,
    lastHandshake: 0,
    handshakes: 0,
    stagedDropped: 0,
  };
  #staged: Uint8Array[] = [];
  /** The endpoint object last checked against Deno's net permission, and the answer. */
  #checkedEndpoint: UdpRemote | null = null;
  #endpointOk = false;
  #lastSentHandshake = -Infinity;
  #removed = false;

  /** Creates a peer on `device` (use `device.addPeer`). */
  constructor(
    readonly device: Device,
    readonly publicKey: Key,
    presharedKey: Key | undefined,
    endpoint: UdpRemote | null,
    persistentKeepalive: number,
  ) {
    this.handshake = new Handshake(device.identity, publicKey, presharedKey);
    this.cookies = new CookieGenerator(publicKey, () => device.clock.now());
    this.endpoint = endpoint;
    this.persistentKeepalive = persistentKeepalive;
    this.timers = new PeerTimers(device.clock, this);
  }

  /** Sends (or stages) one IP packet; the bytes are copied if they must wait. */
  send(packet: Uint8Array): void {
    if (this.#removed) return;
    const kp = this.#usableKeypair();
    if (kp && this.#staged.length === 0) {
      this.#sendTransport(kp, packet);
      this.#keepKeyFreshSending();
      return;
    }
    this.#stage(new Uint8Array(packet));
    this.sendStaged();
  }

  /** Flushes staged packets if a keypair is usable, else starts a handshake. */
  sendStaged(): void {
    if (this.#removed) return;
    const kp = this.#usableKeypair();
    if (!kp) {
      this.sendHandshakeInitiation(false);
      return;
    }
    const staged = this.#staged;
    this.#staged = [];
    for (const p of staged) this.#sendTransport(kp, p);
    this.#keepKeyFreshSending();
  }

  /** Sends a keepalive (an empty transport message), or the staged packets instead. */
  sendKeepalive(): void {
    if (this.#staged.length === 0) this.#staged.push(new Uint8Array(0));
    this.sendStaged();
  }

  /** Drops staged packets (handshake gave up). */
  flushStaged(): void {
    this.#staged = [];
  }

  /** Erases every keypair and the handshake (timer expiry or removal). */
  zeroKeyMaterial(): void {
    for (const kp of this.keypairs.all()) this.device.retireKeypair(kp);
    this.keypairs.clear();
    if (this.handshake.localIndex) this.device.indices.delete(this.handshake.localIndex);
    this.handshake.clear();
  }

  /**
   * Sends a handshake initiation unless one went out less than REKEY_TIMEOUT ago.
   * `isRetry` (from the retransmit timer) keeps the attempt counter.
   */
  sendHandshakeInitiation(isRetry: boolean): void {
    if (this.#removed) return;
    if (!isRetry) this.timers.handshakeAttempts = 0;
    const now = this.device.clock.now();
    if (now - this.#lastSentHandshake < REKEY_TIMEOUT) return;
    if (!this.endpoint) {
      this.device.countDrop("no-endpoint");
      return;
    }
    this.#lastSentHandshake = now;
    if (this.handshake.localIndex) this.device.indices.delete(this.handshake.localIndex);
    const index = this.device.indices.allocate({ peer: this, keypair: null });
    const msg = createInitiation(this.handshake, index, tai64nNow(this.device.wallClock));
    if (!msg) {
      this.device.indices.delete(index);
      this.device.countDrop("bad-peer-key");
      return;
    }
    this.cookies.addMacs(msg);
    this.timers.anyAuthenticatedPacketTraversal();
    this.timers.anyAuthenticatedPacketSent();
    this.#sendRaw(msg);
    this.timers.handshakeInitiated();
    this.device.log.debug("sent handshake initiation", { peer: this.shortKey, retry: isRetry });
  }

  /** Answers a consumed initiation; installs the responder keypair in `next`. */
  sendHandshakeResponse(): void {
    this.#lastSentHandshake = this.device.clock.now();
    const index = this.device.indices.allocate({ peer: this, keypair: null });
    const msg = createResponse(this.handshake, index);
    if (!msg) {
      this.device.indices.delete(index);
      this.device.countDrop("bad-ephemeral");
      return;
    }
    this.cookies.addMacs(msg);
    this.beginSession();
    this.timers.anyAuthenticatedPacketTraversal();
    this.timers.anyAuthenticatedPacketSent();
    this.#sendRaw(msg);
  }

  /** Derives transport keys from the finished handshake and installs them. */
  beginSession(): Keypair | null {
    const keys = deriveSessionKeys(this.handshake);
    if (!keys) return null;
    const kp = new Keypair(keys, this.device.clock.now(), this.device.aead);
    for (const old of this.keypairs.install(kp)) this.device.retireKeypair(old);
    this.device.indices.set(kp.localIndex, { peer: this, keypair: kp });
    this.timers.sessionDerived();
    return kp;
  }

  /** Rekeys early when a keypair we initiated nears the end of its life on receive. */
  keepKeyFreshReceiving(): void {
    if (this.timers.sentLastMinuteHandshake) return;
    const kp = this.keypairs.current;
    if (!kp || !kp.isInitiator) return;
    const age = this.device.clock.now() - kp.created;
    if (age > REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
      this.timers.sentLastMinuteHandshake = true;
      this.sendHandshakeInitiation(false);
    }
  }

  /** First 8 characters of the base64 public key, for logs. */
  get shortKey(): string {
    let s = "";
    for (const b of this.publicKey.subarray(0, 6)) s += String.fromCharCode(b);
    return btoa(s);
  }

  /** Number of packets waiting for a handshake. */
  get stagedCount(): number {
    return this.#staged.length;
  }

  /** Stops timers and forgets keys (peer removed or device closed). */
  remove(): void {
    this.#removed = true;
    this.timers.stop();
    this.zeroKeyMaterial();
    this.#staged = [];
  }

  /** Writes a datagram to the peer's endpoint. */
  #sendRaw(msg: Uint8Array): void {
    if (!this.endpoint) {
      this.device.countDrop("no-endpoint");
      return;
    }
    if (this.endpoint !== this.#checkedEndpoint) {
      this.#checkedEndpoint = this.endpoint;
      this.#endpointOk = !this.device.socket || this.device.endpointPermitted(this.endpoint);
    }
    if (!this.#endpointOk) {
      this.device.countDrop("endpoint-not-permitted");
      return;
    }
    this.stats.txBytes += msg.length;
    this.device.sendDatagram(msg, this.endpoint);
  }

  #stage(p: Uint8Array): void {
    if (this.#staged.length >= MAX_STAGED_PACKETS) {
      this.#staged.shift();
      this.stats.stagedDropped++;
      this.device.countDrop("staged-overflow");
    }
    this.#staged.push(p);
  }

  #usableKeypair(): Keypair | null {
    const kp = this.keypairs.current;
    if (!kp) return null;
    if (this.device.clock.now() - kp.created >= REJECT_AFTER_TIME) return null;
    if (kp.sendCounter >= REJECT_AFTER_MESSAGES) return null;
    return kp;
  }

  /** Encrypts one packet (padded to 16 bytes) into a transport message and sends it. */
  #sendTransport(kp: Keypair, packet: Uint8Array): void {
    const mtu = this.device.mtu;
    let padded = Math.ceil(packet.length / PADDING_MULTIPLE) * PADDING_MULTIPLE;
    if (padded > mtu && packet.length <= mtu) padded = mtu;
    const counter = kp.sendCounter++;
    // A socket that copies on send takes the message straight from the AEAD's memory.
    let msg = this.device.sendCopies
      ? this.device.aead.sealMessage(kp.sendKey, counter, packet, padded, Transport.payload)
      : null;
    if (msg) {
      msg[0] = MessageType.Transport;
      msg[1] = msg[2] = msg[3] = 0;
    } else {
      msg = newMessage(MessageType.Transport, MessageSize.TransportHeader + padded + TAG_LENGTH);
      const body = msg.subarray(Transport.payload);
      body.set(packet); // the rest is zero: the padding
      this.device.aead.seal(kp.sendKey, counter, body.subarray(0, padded), body);
    }
    writeU32(msg, Transport.receiver, kp.remoteIndex);
    writeCounter(msg, Transport.counter, counter);
    this.timers.anyAuthenticatedPacketTraversal();
    this.timers.anyAuthenticatedPacketSent();
    if (packet.length > 0) this.timers.dataSent();
    this.#sendRaw(msg);
  }

  #keepKeyFreshSending(): void {
    const kp = this.keypairs.current;
    if (!kp || !kp.isInitiator) return;
    const now = this.device.clock.now();
    if (kp.sendCounter > REKEY_AFTER_MESSAGES || now - kp.created > REKEY_AFTER_TIME) {
      this.sendHandshakeInitiation(false);
    }
  }
}
