/**
 * Constants of the WireGuard protocol (whitepaper §6.1 and §5.4), kept apart from this
 * implementation's own limits, which follow below them.
 *
 * @module
 */

/** Noise construction name, hashed into the initial chaining key. */
export const CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/** WireGuard identifier, hashed into the initial hash. */
export const IDENTIFIER = "WireGuard v1 zx2c4 Jason@zx2c4.com";
/** Label for the MAC1 key. */
export const LABEL_MAC1 = "mac1----";
/** Label for the cookie encryption key. */
export const LABEL_COOKIE = "cookie--";

/** Initiate a new handshake after this many messages on a keypair (2^60, exact as a number). */
export const REKEY_AFTER_MESSAGES = 2 ** 60;
/**
 * Never use a keypair for more messages than 2^64 − 2^13 − 1. Counters are JS numbers here, exact
 * below 2^53, so the sender stops at `Number.MAX_SAFE_INTEGER` — a bound no keypair can reach
 * before its 180 s lifetime ends (it would take 5·10^13 packets per second).
 */
export const REJECT_AFTER_MESSAGES = Number.MAX_SAFE_INTEGER;
/** Initiate a new handshake when the current keypair is this old (ms). */
export const REKEY_AFTER_TIME = 120_000;
/** Never use a keypair older than this (ms). */
export const REJECT_AFTER_TIME = 180_000;
/** Give up handshaking after this long without success (ms). */
export const REKEY_ATTEMPT_TIME = 90_000;
/** Retransmit an unanswered handshake initiation after this long (ms), plus jitter. */
export const REKEY_TIMEOUT = 5_000;
/** Send a keepalive when data was received but nothing sent for this long (ms). */
export const KEEPALIVE_TIMEOUT = 10_000;
/** Cookie secrets rotate, and received cookies expire, after this long (ms). */
export const COOKIE_REFRESH_TIME = 120_000;

/** Maximum random jitter added to the handshake retransmit timer (ms), as wireguard-go. */
export const REKEY_TIMEOUT_JITTER_MAX = 334;
/** Handshake attempts before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT;
/** Minimum interval between accepted initiations from one peer (ms), as wireguard-go. */
export const HANDSHAKE_INITIATION_RATE = 50;

/** Message type bytes. */
export const MessageType = {
  Initiation: 1,
  Response: 2,
  CookieReply: 3,
  Transport: 4,
} as const;

/** Exact sizes of the handshake messages and the transport header. */
export const MessageSize = {
  Initiation: 148,
  Response: 92,
  CookieReply: 64,
  TransportHeader: 16,
  /** Header plus the tag of an empty (keepalive) payload. */
  TransportMinimum: 32,
} as const;

/** Transport plaintext is padded to a multiple of this. */
export const PADDING_MULTIPLE = 16;

// --- Our own limits (not protocol constants) ---

/** Packets queued per peer while a handshake is under way (wireguard-go's QueueStagedSize). */
export const MAX_STAGED_PACKETS = 128;
/** Largest UDP payload we accept or send. */
export const MAX_MESSAGE_SIZE = 65535;
/** Handshake messages per second above which the device is "under load" and demands cookies. */
export const DEFAULT_UNDER_LOAD_THRESHOLD = 256;
/** How long the device stays under load after the rate falls (ms), as wireguard-go. */
export const UNDER_LOAD_AFTER_TIME = 1_000;
