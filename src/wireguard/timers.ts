/**
 * Per-peer protocol timers (whitepaper §6, wireguard-go's `timers.go`). Hooks are named by the
 * event that calls them (`dataSent`, …); expiry handlers are `expired…`.
 *
 * @module
 */
import { type Clock, Timer } from "../clock.ts";
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
} from "./constants.ts";

/** What the timers need from their peer. */
export interface TimerActions {
  /** Sends a handshake initiation (`isRetry` keeps the attempt count). */
  sendHandshakeInitiation(isRetry: boolean): void;
  /** Sends a keepalive (or queued packets). */
  sendKeepalive(): void;
  /** Drops packets queued for a handshake that failed. */
  flushStaged(): void;
  /** Erases all keys of the peer. */
  zeroKeyMaterial(): void;
  /** Persistent keepalive interval in seconds (0 = off). */
  readonly persistentKeepalive: number;
}

function jitter(): number {
  return Math.floor(Math.random() * REKEY_TIMEOUT_JITTER_MAX);
}

/** The five timers of one peer and the event hooks that arm them. */
export class PeerTimers {
  /** Handshake attempts since the last success. */
  handshakeAttempts = 0;
  /** Whether another keepalive is owed after the pending one. */
  needAnotherKeepalive = false;
  /** Whether the last-minute handshake before key expiry was sent. */
  sentLastMinuteHandshake = false;
  /** Resends the initiation while no response came (REKEY_TIMEOUT, jittered). */
  readonly retransmitHandshake: Timer;
  /** Sends a keepalive when we received data but sent none (KEEPALIVE_TIMEOUT). */
  readonly sendKeepalive: Timer;
  /** Starts a new handshake when we sent data but heard nothing back. */
  readonly newHandshake: Timer;
  /** Erases all key material after REJECT_AFTER_TIME × 3 without a new session. */
  readonly zeroKeyMaterial: Timer;
  /** The peer's configured persistent keepalive. */
  readonly persistentKeepalive: Timer;
  #running = true;

  /** Creates the timers of a peer on `clock`. */
  constructor(clock: Clock, private readonly peer: TimerActions) {
    const guard = (fn: () => void) => () => this.#running && fn();
    this.retransmitHandshake = new Timer(clock, guard(() => this.expiredRetransmitHandshake()));
    this.sendKeepalive = new Timer(clock, guard(() => this.expiredSendKeepalive()));
    this.newHandshake = new Timer(clock, guard(() => this.peer.sendHandshakeInitiation(false)));
    this.zeroKeyMaterial = new Timer(clock, guard(() => this.peer.zeroKeyMaterial()));
    this.persistentKeepalive = new Timer(
      clock,
      guard(() => this.peer.persistentKeepalive > 0 && this.peer.sendKeepalive()),
    );
  }

  /** A retransmit timer expiry: retry, or give up after MAX_TIMER_HANDSHAKES attempts. */
  expiredRetransmitHandshake(): void {
    if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      this.sendKeepalive.del();
      this.peer.flushStaged();
      if (!this.zeroKeyMaterial.isPending) this.zeroKeyMaterial.mod(REJECT_AFTER_TIME * 3);
      return;
    }
    this.handshakeAttempts++;
    this.peer.sendHandshakeInitiation(true);
  }

  /** A keepalive timer expiry: send one, and arm again if another is owed. */
  expiredSendKeepalive(): void {
    this.peer.sendKeepalive();
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.sendKeepalive.mod(KEEPALIVE_TIMEOUT);
    }
  }

  /** A data packet was sent: expect an answer within KEEPALIVE + REKEY_TIMEOUT. */
  dataSent(): void {
    if (!this.newHandshake.isPending) {
      this.newHandshake.mod(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter());
    }
  }

  /** A data packet was received: owe a keepalive unless we send something first. */
  dataReceived(): void {
    if (!this.sendKeepalive.isPending) this.sendKeepalive.mod(KEEPALIVE_TIMEOUT);
    else this.needAnotherKeepalive = true;
  }

  /** Any authenticated packet was sent: it doubles as a keepalive. */
  anyAuthenticatedPacketSent(): void {
    this.sendKeepalive.del();
  }

  /** Any authenticated packet was received: the peer is alive. */
  anyAuthenticatedPacketReceived(): void {
    this.newHandshake.del();
  }

  /** Any authenticated packet crossed: restart the persistent keepalive. */
  anyAuthenticatedPacketTraversal(): void {
    const s = this.peer.persistentKeepalive;
    if (s > 0) this.persistentKeepalive.mod(s * 1000);
  }

  /** An initiation was sent: retransmit unless answered. */
  handshakeInitiated(): void {
    this.retransmitHandshake.mod(REKEY_TIMEOUT + jitter());
  }

  /** A handshake completed. */
  handshakeComplete(): void {
    this.retransmitHandshake.del();
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** New session keys exist: erase them all if nothing renews them within 3 × REJECT_AFTER_TIME. */
  sessionDerived(): void {
    this.zeroKeyMaterial.mod(REJECT_AFTER_TIME * 3);
  }

  /** Stops every timer for good (peer removed or device closed). */
  stop(): void {
    this.#running = false;
    for (
      const t of [
        this.retransmitHandshake,
        this.sendKeepalive,
        this.newHandshake,
        this.zeroKeyMaterial,
        this.persistentKeepalive,
      ]
    ) t.stop();
  }
}
