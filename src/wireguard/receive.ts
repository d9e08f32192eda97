/**
 * The receive path (wireguard-go's `receive.go`).
 *
 * Inbound flow:
 *  1. `receiveDatagram` classifies a datagram by type and exact size (malformed → counted drop).
 *  2. Handshake messages: MAC1 checked; under load MAC2 demanded (else a cookie reply) and the
 *     source rate-limited; then the Noise step, session keys, and the answer.
 *  3. Transport messages: keypair by receiver index, decrypt, anti-replay, keypair promotion,
 *     roaming, timers; keepalives end here, IP packets must come from the peer's AllowedIPs.
 *  4. The IP packet, padding trimmed, goes to the device's `onPacket` (the tun side).
 *
 * Nothing here throws for bad input: every rejection is a counted drop reason.
 *
 * @module
 */
import { MessageType, REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME } from "./constants.ts";
import { classifyMessage, CookieReply, readCounter, readU32, Transport } from "./messages.ts";
import { consumeInitiation, consumeResponse } from "./noise.ts";
import { HANDSHAKE_INITIATION_RATE } from "./constants.ts";
import { ipPacketSource, tryParseIp } from "../wire/ip_address.ts";
import { ipPacketLength } from "../wire/ip_packet.ts";
import type { Device } from "./device.ts";
import type { Peer } from "./peer.ts";
import type { UdpRemote } from "../udp_socket.ts";

/** Processes one UDP datagram received by the device. `data` may be a reused buffer. */
export function receiveDatagram(device: Device, data: Uint8Array, from: UdpRemote): void {
  const type = classifyMessage(data);
  if (typeof type === "string") {
    device.countDrop(`malformed-${type}`);
    return;
  }
  switch (type) {
    case MessageType.Transport:
      return receiveTransport(device, data, from);
    case MessageType.Initiation:
    case MessageType.Response:
      return receiveHandshake(device, data, from, type);
    case MessageType.CookieReply:
      return receiveCookieReply(device, data);
  }
}

/** Bytes identifying a source for cookies: its address text and port. */
function sourceBytes(from: UdpRemote): Uint8Array {
  return new TextEncoder().encode(`${from.address}|${from.port}`);
}

function receiveHandshake(device: Device, msg: Uint8Array, from: UdpRemote, type: number): void {
  if (!device.cookieChecker.checkMac1(msg)) {
    device.countDrop("bad-mac1");
    return;
  }
  if (device.noteHandshakeAndCheckLoad()) {
    const src = sourceBytes(from);
    if (!device.cookieChecker.checkMac2(msg, src)) {
      device.sendDatagram(device.cookieChecker.createReply(msg, src), from);
      device.countDrop("cookie-sent");
      return;
    }
    const addr = tryParseIp(from.address);
    if (!addr || !device.handshakeLimiter.allow(addr)) {
      device.countDrop("handshake-rate-limited");
      return;
    }
  }
  // Copy: the receive buffer is reused and the handshake keeps slices of the message.
  const copy = new Uint8Array(msg);
  if (type === MessageType.Initiation) {
    const r = consumeInitiation<Peer>(
      device.identity,
      copy,
      (key) => {
        const peer = device.peerByKey(key);
        return peer ? { peer, handshake: peer.handshake } : undefined;
      },
      device.clock.now(),
      HANDSHAKE_INITIATION_RATE,
    );
    if (!r.ok) {
      device.countDrop(`initiation-${r.reason}`);
      return;
    }
    const peer = r.peer;
    authenticated(peer, from, msg.length);
    peer.sendHandshakeResponse();
    device.log.debug("answered handshake initiation", { peer: peer.shortKey });
    return;
  }
  const r = consumeResponse<Peer>(device.identity, copy, (index) => {
    const e = device.indices.get(index);
    return e && !e.keypair ? { peer: e.peer, handshake: e.peer.handshake } : undefined;
  });
  if (!r.ok) {
    device.countDrop(`response-${r.reason}`);
    return;
  }
  const peer = r.peer;
  authenticated(peer, from, msg.length);
  if (!peer.beginSession()) return;
  handshakeComplete(device, peer);
  peer.sendKeepalive(); // flushes queued packets, or confirms the session with a keepalive
}

/**
 * Bookkeeping for any authenticated message: the endpoint follows it (roaming), it counts as
 * received traffic, and the timers learn the peer is alive.
 */
function authenticated(peer: Peer, from: UdpRemote, bytes: number): void {
  if (peer.endpoint?.address !== from.address || peer.endpoint.port !== from.port) {
    peer.endpoint = { address: from.address, port: from.port };
  }
  peer.stats.rxBytes += bytes;
  peer.timers.anyAuthenticatedPacketTraversal();
  peer.timers.anyAuthenticatedPacketReceived();
}

function handshakeComplete(device: Device, peer: Peer): void {
  peer.timers.handshakeComplete();
  peer.stats.lastHandshake = Date.now();
  peer.stats.handshakes++;
  device.counters.handshakes++;
  device.log.info("handshake complete", { peer: peer.shortKey });
}

function receiveCookieReply(device: Device, msg: Uint8Array): void {
  const e = device.indices.get(readU32(msg, CookieReply.receiver));
  if (!e) {
    device.countDrop("cookie-unknown-index");
    return;
  }
  if (!e.peer.cookies.consumeReply(msg)) device.countDrop("cookie-bad");
}

function receiveTransport(device: Device, msg: Uint8Array, from: UdpRemote): void {
  const e = device.indices.get(readU32(msg, Transport.receiver));
  const kp = e?.keypair;
  if (!e || !kp) {
    device.countDrop("unknown-index");
    return;
  }
  const peer = e.peer;
  if (device.clock.now() - kp.created >= REJECT_AFTER_TIME) {
    device.countDrop("expired-keypair");
    return;
  }
  const counter = readCounter(msg, Transport.counter);
  if (counter >= REJECT_AFTER_MESSAGES) {
    device.countDrop("counter-exhausted");
    return;
  }
  const sealed = msg.subarray(Transport.payload);
  const plain = device.aead.open(kp.receiveKey, counter, sealed, device.plainBuffer);
  if (!plain) {
    device.countDrop("bad-tag");
    return;
  }
  const next = kp.replay.next;
  if (!kp.replay.validate(counter)) {
    device.countDrop("replayed");
    return;
  }
  // The sender numbers every message: gaps are inbound loss (path or our socket buffer), which
  // is otherwise invisible to a process that cannot read the kernel's counters.
  const stats = peer.stats;
  stats.rxMessages++;
  if (counter >= next) stats.rxGaps += counter - next;
  else stats.rxLate++;
  const promotion = peer.keypairs.receivedWith(kp);
  if (promotion.promoted) {
    if (promotion.dropped) device.retireKeypair(promotion.dropped);
    handshakeComplete(device, peer);
  }
  deliverTransport(device, peer, plain, from, msg.length);
  // Only now: sealing the staged packets reuses the AEAD memory that `plain` is a view of (sent
  // first, they overwrote the packet that confirmed the session before it was delivered).
  if (promotion.promoted) peer.sendStaged();
}

/** Bookkeeping for an authenticated transport message, then its inner packet to onPacket. */
function deliverTransport(
  device: Device,
  peer: Peer,
  plain: Uint8Array,
  from: UdpRemote,
  bytes: number,
): void {
  peer.keepKeyFreshReceiving();
  authenticated(peer, from, bytes);
  if (plain.length === 0) {
    device.counters.keepalivesReceived++;
    return;
  }
  peer.timers.dataReceived();
  const len = ipPacketLength(plain);
  const src = len === null ? undefined : ipPacketSource(plain);
  if (len === null || !src) {
    device.countDrop("inner-malformed");
    return;
  }
  if (device.allowedIPs.lookup(src) !== peer) {
    device.countDrop("inner-source-not-allowed");
    return;
  }
  device.counters.packetsReceived++;
  device.onPacket(plain.subarray(0, len), peer);
}
