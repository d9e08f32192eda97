/**
 * Transport keypairs and their rotation (wireguard-go's `keypair.go`): previous, current and
 * next, where a responder's new keypair waits in `next` until the initiator uses it.
 *
 * @module
 */
import { ReplayWindow } from "./replay.ts";
import type { SessionKeys } from "./noise.ts";
import type { TransportAead, TransportKey } from "./transport_aead.ts";

/** One direction-pair of transport keys with its counters. */
export class Keypair {
  /** Next counter to send with. */
  sendCounter = 0;
  /** Receive-side anti-replay window. */
  readonly replay: ReplayWindow = new ReplayWindow();
  /** The send key, installed in the transport AEAD. */
  readonly sendKey: TransportKey;
  /** The receive key, installed in the transport AEAD. */
  readonly receiveKey: TransportKey;

  /** Wraps derived session keys, created at `created` ms, installing them in `aead`. */
  constructor(readonly keys: SessionKeys, readonly created: number, aead: TransportAead) {
    this.sendKey = aead.install(keys.send);
    this.receiveKey = aead.install(keys.receive);
  }

  /** Our index; receivers address transport messages to it. */
  get localIndex(): number {
    return this.keys.localIndex;
  }
  /** The peer's index. */
  get remoteIndex(): number {
    return this.keys.remoteIndex;
  }
  /** Whether we initiated the handshake that made it. */
  get isInitiator(): boolean {
    return this.keys.isInitiator;
  }
}

/** The three keypair slots of a peer. */
export class Keypairs {
  /** The keypair before the current one, still accepted for receiving. */
  previous: Keypair | null = null;
  /** The keypair used for sending. */
  current: Keypair | null = null;
  /** A responder's new keypair, promoted when the initiator first uses it. */
  next: Keypair | null = null;

  /** Installs a fresh keypair; returns the keypairs it displaced (their indices must be freed). */
  install(kp: Keypair): Keypair[] {
    const dropped: Keypair[] = [];
    const add = (k: Keypair | null) => k && dropped.push(k);
    if (kp.isInitiator) {
      if (this.next) {
        add(this.previous);
        add(this.current);
        this.previous = this.next;
        this.next = null;
      } else {
        add(this.previous);
        this.previous = this.current;
      }
      this.current = kp;
    } else {
      add(this.next);
      add(this.previous);
      this.next = kp;
      this.previous = null;
    }
    return dropped;
  }

  /**
   * Called when a packet arrived on `kp`: if it is `next`, promote it to current. Returns the
   * displaced keypair (or null) and whether a promotion happened.
   */
  receivedWith(kp: Keypair): { promoted: boolean; dropped: Keypair | null } {
    if (this.next !== kp) return { promoted: false, dropped: null };
    const dropped = this.previous;
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    return { promoted: true, dropped };
  }

  /** All keypairs held, for zeroing. */
  all(): Keypair[] {
    return [this.previous, this.current, this.next].filter((k): k is Keypair => k !== null);
  }

  /** Forgets every keypair. */
  clear(): void {
    this.previous = this.current = this.next = null;
  }
}
