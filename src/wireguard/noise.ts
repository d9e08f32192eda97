/**
 * The Noise_IKpsk2 handshake of WireGuard (whitepaper §5.4.2–5.4.5), initiator and responder.
 * Pure state transitions: no sockets, no timers, no clocks — the caller supplies indices,
 * timestamps and (for tests) ephemerals, and checks MACs and cookies before calling in.
 *
 * @module
 */
import {
  aeadDecrypt,
  aeadEncrypt,
  dh,
  hash,
  kdf,
  type PreparedPrivateKey,
  preparePrivateKey,
  publicKeyOf,
} from "./crypto.ts";
import { CONSTRUCTION, IDENTIFIER, MessageType } from "./constants.ts";
import { Initiation, newMessage, readU32, Response, writeU32 } from "./messages.ts";
import { generatePrivateKey, type Key } from "./keys.ts";
import { tai64nAfter } from "./tai64n.ts";

const enc = new TextEncoder();
/** C = HASH(Construction). */
export const INITIAL_CHAIN_KEY: Uint8Array = hash(enc.encode(CONSTRUCTION));
/** H = HASH(C || Identifier). */
export const INITIAL_HASH: Uint8Array = hash(INITIAL_CHAIN_KEY, enc.encode(IDENTIFIER));
const ZERO_KEY = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

/** This device's static key pair, prepared once. */
export interface LocalIdentity {
  /** Raw private key. */
  readonly privateKey: Key;
  /** Private key parsed for DH. */
  readonly prepared: PreparedPrivateKey;
  /** Our public key. */
  readonly publicKey: Key;
}

/** Prepares a private key as this device's identity. */
export function createIdentity(privateKey: Key): LocalIdentity {
  const prepared = preparePrivateKey(privateKey);
  return { privateKey, prepared, publicKey: publicKeyOf(prepared) };
}

/** Where a handshake stands. */
export const HandshakeStatus = {
  Zeroed: 0,
  InitiationCreated: 1,
  InitiationConsumed: 2,
  ResponseCreated: 3,
  ResponseConsumed: 4,
} as const;
/** One of {@linkcode HandshakeStatus}'s values. */
export type HandshakeStatus = typeof HandshakeStatus[keyof typeof HandshakeStatus];

/** The per-peer handshake state (wireguard-go's `Handshake`). */
export class Handshake {
  /** Current state. */
  status: HandshakeStatus = HandshakeStatus.Zeroed as HandshakeStatus;
  /** Running hash H. */
  hash: Uint8Array = INITIAL_HASH;
  /** Chaining key C. */
  chainKey: Uint8Array = INITIAL_CHAIN_KEY;
  /** Our index for this handshake. */
  localIndex = 0;
  /** The peer's index. */
  remoteIndex = 0;
  /** Our ephemeral private key, while a handshake is open. */
  localEphemeral: PreparedPrivateKey | null = null;
  /** The peer's ephemeral public key. */
  remoteEphemeral: Uint8Array = ZERO_KEY;
  /** Newest TAI64N timestamp accepted from this peer (anti-replay of initiations). */
  lastTimestamp: Uint8Array = new Uint8Array(12);
  /** When we last accepted an initiation from this peer (ms, caller's clock). */
  lastInitiationConsumed: number = -Infinity;
  /** DH(our static, peer static), fixed for the peer's lifetime. */
  readonly precomputedStaticStatic: Uint8Array | null;
  /** HASH(InitialHash || peer public key), the responder-side starting hash. */
  readonly initialPeerHash: Uint8Array;

  /** Creates the handshake state for one peer. */
  constructor(
    readonly local: LocalIdentity,
    readonly remoteStatic: Key,
    public presharedKey: Key = ZERO_KEY,
  ) {
    this.precomputedStaticStatic = dh(local.prepared, remoteStatic);
    this.initialPeerHash = hash(INITIAL_HASH, remoteStatic);
  }

  /** Forgets all ephemeral state (after success, failure or expiry). */
  clear(): void {
    this.status = HandshakeStatus.Zeroed;
    this.hash = INITIAL_HASH;
    this.chainKey = INITIAL_CHAIN_KEY;
    this.localEphemeral = null;
    this.remoteEphemeral = ZERO_KEY;
    this.localIndex = 0;
    this.remoteIndex = 0;
  }
}

/** Session keys derived from a completed handshake. */
export interface SessionKeys {
  /** Key for messages we send. */
  readonly send: Uint8Array;
  /** Key for messages we receive. */
  readonly receive: Uint8Array;
  /** Whether we initiated the handshake. */
  readonly isInitiator: boolean;
  /** Our index (receivers address us by it). */
  readonly localIndex: number;
  /** The peer's index (we address transport messages to it). */
  readonly remoteIndex: number;
}

/** Why a handshake message was rejected (a drop reason). */
export type HandshakeError =
  | "decrypt-static"
  | "unknown-peer"
  | "decrypt-timestamp"
  | "replayed-timestamp"
  | "initiation-flood"
  | "bad-ephemeral"
  | "wrong-state"
  | "decrypt-empty"
  | "no-static-static";

function mixHash(h: Uint8Array, data: Uint8Array): Uint8Array {
  return hash(h, data);
}

/** Makes an ephemeral key pair, or uses the given private key (tests with fixed ephemerals). */
function ephemeral(fixed?: Key): { prepared: PreparedPrivateKey; publicKey: Key } {
  const prepared = preparePrivateKey(fixed ?? generatePrivateKey());
  return { prepared, publicKey: publicKeyOf(prepared) };
}

/**
 * Creates a handshake initiation (MAC fields left zero for the cookie layer to fill).
 * Returns null when the peer's static key is unusable (a low-order point).
 */
export function createInitiation(
  hs: Handshake,
  localIndex: number,
  timestamp: Uint8Array,
  fixedEphemeral?: Key,
): Uint8Array | null {
  if (!hs.precomputedStaticStatic) return null;
  const msg = newMessage(MessageType.Initiation, Initiation.size);
  let h = hs.initialPeerHash;
  let c = INITIAL_CHAIN_KEY;
  const e = ephemeral(fixedEphemeral);
  msg.set(e.publicKey, Initiation.ephemeral);
  [c] = kdf(1, c, e.publicKey) as [Uint8Array];
  h = mixHash(h, e.publicKey);
  const es = dh(e.prepared, hs.remoteStatic);
  if (!es) return null;
  let k: Uint8Array;
  [c, k] = kdf(2, c, es) as [Uint8Array, Uint8Array];
  const encStatic = aeadEncrypt(k, 0, hs.local.publicKey, h);
  msg.set(encStatic, Initiation.static);
  h = mixHash(h, encStatic);
  [c, k] = kdf(2, c, hs.precomputedStaticStatic) as [Uint8Array, Uint8Array];
  const encTimestamp = aeadEncrypt(k, 0, timestamp, h);
  msg.set(encTimestamp, Initiation.timestamp);
  h = mixHash(h, encTimestamp);
  writeU32(msg, Initiation.sender, localIndex);
  hs.hash = h;
  hs.chainKey = c;
  hs.localEphemeral = e.prepared;
  hs.localIndex = localIndex;
  hs.status = HandshakeStatus.InitiationCreated;
  return msg;
}

/** Result of consuming an initiation: the handshake it belongs to, or why it was rejected. */
export type ConsumeInitiationResult<P> =
  | { ok: true; peer: P; handshake: Handshake }
  | { ok: false; reason: HandshakeError };

/**
 * Consumes an initiation (MACs already checked). `findPeer` maps the decrypted initiator static
 * key to the peer and its handshake. `now` is the caller's clock (ms) for the flood check.
 */
export function consumeInitiation<P>(
  local: LocalIdentity,
  msg: Uint8Array,
  findPeer: (staticKey: Uint8Array) => { peer: P; handshake: Handshake } | undefined,
  now: number,
  minInitiationInterval: number,
): ConsumeInitiationResult<P> {
  const eph = msg.subarray(Initiation.ephemeral, Initiation.ephemeral + 32);
  let h = hash(INITIAL_HASH, local.publicKey);
  let c = INITIAL_CHAIN_KEY;
  [c] = kdf(1, c, eph) as [Uint8Array];
  h = mixHash(h, eph);
  const es = dh(local.prepared, eph);
  if (!es) return { ok: false, reason: "bad-ephemeral" };
  let k: Uint8Array;
  [c, k] = kdf(2, c, es) as [Uint8Array, Uint8Array];
  const encStatic = msg.subarray(Initiation.static, Initiation.timestamp);
  const peerStatic = aeadDecrypt(k, 0, encStatic, h);
  if (!peerStatic) return { ok: false, reason: "decrypt-static" };
  h = mixHash(h, encStatic);
  const found = findPeer(peerStatic);
  if (!found) return { ok: false, reason: "unknown-peer" };
  const hs = found.handshake;
  if (!hs.precomputedStaticStatic) return { ok: false, reason: "no-static-static" };
  [c, k] = kdf(2, c, hs.precomputedStaticStatic) as [Uint8Array, Uint8Array];
  const encTimestamp = msg.subarray(Initiation.timestamp, Initiation.mac1);
  const timestamp = aeadDecrypt(k, 0, encTimestamp, h);
  if (!timestamp) return { ok: false, reason: "decrypt-timestamp" };
  h = mixHash(h, encTimestamp);
  if (!tai64nAfter(timestamp, hs.lastTimestamp)) {
    return { ok: false, reason: "replayed-timestamp" };
  }
  if (now - hs.lastInitiationConsumed < minInitiationInterval) {
    return { ok: false, reason: "initiation-flood" };
  }
  hs.hash = h;
  hs.chainKey = c;
  hs.remoteIndex = readU32(msg, Initiation.sender);
  hs.remoteEphemeral = new Uint8Array(eph);
  hs.lastTimestamp = new Uint8Array(timestamp);
  hs.lastInitiationConsumed = now;
  hs.status = HandshakeStatus.InitiationConsumed;
  return { ok: true, peer: found.peer, handshake: hs };
}

/** Creates the response to a consumed initiation (MAC fields left zero). */
export function createResponse(
  hs: Handshake,
  localIndex: number,
  fixedEphemeral?: Key,
): Uint8Array | null {
  if (hs.status !== HandshakeStatus.InitiationConsumed) return null;
  const msg = newMessage(MessageType.Response, Response.size);
  writeU32(msg, Response.sender, localIndex);
  writeU32(msg, Response.receiver, hs.remoteIndex);
  const e = ephemeral(fixedEphemeral);
  msg.set(e.publicKey, Response.ephemeral);
  let h = hs.hash;
  let c = hs.chainKey;
  [c] = kdf(1, c, e.publicKey) as [Uint8Array];
  h = mixHash(h, e.publicKey);
  const ee = dh(e.prepared, hs.remoteEphemeral);
  if (!ee) return null;
  [c] = kdf(1, c, ee) as [Uint8Array];
  const se = dh(e.prepared, hs.remoteStatic);
  if (!se) return null;
  [c] = kdf(1, c, se) as [Uint8Array];
  const [c2, tau, k] = kdf(3, c, hs.presharedKey) as [Uint8Array, Uint8Array, Uint8Array];
  c = c2;
  h = mixHash(h, tau);
  const empty = aeadEncrypt(k, 0, EMPTY, h);
  msg.set(empty, Response.empty);
  h = mixHash(h, empty);
  hs.hash = h;
  hs.chainKey = c;
  hs.localIndex = localIndex;
  hs.localEphemeral = e.prepared;
  hs.status = HandshakeStatus.ResponseCreated;
  return msg;
}

/** Result of consuming a response. */
export type ConsumeResponseResult<P> =
  | { ok: true; peer: P; handshake: Handshake }
  | { ok: false; reason: HandshakeError | "unknown-index" };

/**
 * Consumes a response (MACs already checked). `findByIndex` maps our index in its receiver field
 * to the handshake awaiting it.
 */
export function consumeResponse<P>(
  local: LocalIdentity,
  msg: Uint8Array,
  findByIndex: (index: number) => { peer: P; handshake: Handshake } | undefined,
): ConsumeResponseResult<P> {
  const found = findByIndex(readU32(msg, Response.receiver));
  if (!found) return { ok: false, reason: "unknown-index" };
  const hs = found.handshake;
  if (hs.status !== HandshakeStatus.InitiationCreated || !hs.localEphemeral) {
    return { ok: false, reason: "wrong-state" };
  }
  const eph = msg.subarray(Response.ephemeral, Response.ephemeral + 32);
  let h = mixHash(hs.hash, eph);
  let c = hs.chainKey;
  [c] = kdf(1, c, eph) as [Uint8Array];
  const ee = dh(hs.localEphemeral, eph);
  if (!ee) return { ok: false, reason: "bad-ephemeral" };
  [c] = kdf(1, c, ee) as [Uint8Array];
  const se = dh(local.prepared, eph);
  if (!se) return { ok: false, reason: "bad-ephemeral" };
  [c] = kdf(1, c, se) as [Uint8Array];
  const [c2, tau, k] = kdf(3, c, hs.presharedKey) as [Uint8Array, Uint8Array, Uint8Array];
  c = c2;
  h = mixHash(h, tau);
  const empty = msg.subarray(Response.empty, Response.mac1);
  if (!aeadDecrypt(k, 0, empty, h)) return { ok: false, reason: "decrypt-empty" };
  h = mixHash(h, empty);
  hs.hash = h;
  hs.chainKey = c;
  hs.remoteIndex = readU32(msg, Response.sender);
  hs.remoteEphemeral = new Uint8Array(eph);
  hs.status = HandshakeStatus.ResponseConsumed;
  return { ok: true, peer: found.peer, handshake: hs };
}

/**
 * Derives the transport keys (T_send, T_recv) = KDF2(C, ε) and clears the handshake.
 * Only valid after ResponseCreated (responder) or ResponseConsumed (initiator).
 */
export function deriveSessionKeys(hs: Handshake): SessionKeys | null {
  let isInitiator: boolean;
  if (hs.status === HandshakeStatus.ResponseConsumed) isInitiator = true;
  else if (hs.status === HandshakeStatus.ResponseCreated) isInitiator = false;
  else return null;
  const [t1, t2] = kdf(2, hs.chainKey, EMPTY) as [Uint8Array, Uint8Array];
  const keys: SessionKeys = {
    send: isInitiator ? t1 : t2,
    receive: isInitiator ? t2 : t1,
    isInitiator,
    localIndex: hs.localIndex,
    remoteIndex: hs.remoteIndex,
  };
  const lastTimestamp = hs.lastTimestamp;
  const lastInitiationConsumed = hs.lastInitiationConsumed;
  hs.clear();
  hs.lastTimestamp = lastTimestamp;
  hs.lastInitiationConsumed = lastInitiationConsumed;
  return keys;
}
