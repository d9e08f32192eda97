/**
 * Flow admission limits: concurrent flows (global and per peer) and a new-flow rate per peer
 * (token bucket). At a limit the flow is refused (RST / ICMP) and counted; open flows are never
 * touched.
 *
 * @module
 */
import { TokenBucket } from "../wireguard/ratelimiter.ts";

/** Limits on flow admission. */
export interface FlowLimits {
  /** Concurrent flows in total (TCP + UDP sessions). Default 10 000. */
  maxFlows: number;
  /** Concurrent flows per peer. Default 2 000. */
  maxFlowsPerPeer: number;
  /** New flows per second per peer (sustained). Default 200. */
  newFlowsPerSecond: number;
  /** New-flow burst per peer. Default 400. */
  newFlowBurst: number;
  /** Bandwidth cap per flow and direction in bytes per second; 0 = none (default). */
  flowBytesPerSecond: number;
}

/** Default limits. */
export const DEFAULT_FLOW_LIMITS: FlowLimits = {
  maxFlows: 10_000,
  maxFlowsPerPeer: 2_000,
  newFlowsPerSecond: 200,
  newFlowBurst: 400,
  flowBytesPerSecond: 0,
};

/**
 * Paces one direction of one flow to a byte rate. The burst is a tenth of a second of traffic
 * but at least one copy buffer, so a whole read can always pass.
 */
export class FlowPacer {
  #bucket: TokenBucket;

  /** A pacer for `bytesPerSecond`; `minBurst` is the largest single chunk. */
  constructor(bytesPerSecond: number, minBurst: number, now: () => number) {
    this.#bucket = new TokenBucket({
      rate: bytesPerSecond,
      burst: Math.max(minBurst, bytesPerSecond / 10),
      now,
    });
  }

  /** Waits until `n` bytes may pass (TCP: backpressure reaches the sender). */
  async pace(n: number): Promise<void> {
    for (let i = 0; i < 1000 && !this.#bucket.take(n); i++) {
      await new Promise((r) => setTimeout(r, Math.max(1, this.#bucket.waitTime(n))));
    }
  }

  /** Whether `n` bytes may pass now (UDP: over the cap is dropped). */
  tryTake(n: number): boolean {
    return this.#bucket.take(n);
  }
}

/** Flows given up when a dial runs out of descriptors, so the runtime keeps some. */
const DESCRIPTOR_MARGIN = 32;

/** Why admission failed. */
export type LimitReason = "limit-global" | "limit-peer" | "limit-rate";

/** Tracks open flows and admits new ones within the limits. */
export class FlowAdmission {
  #limits: FlowLimits;
  #open = 0;
  #perPeer = new Map<string, { open: number; bucket: TokenBucket }>();

  /** Creates the admission control; `now` is the clock in ms. */
  constructor(
    limits: Partial<FlowLimits> = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#limits = { ...DEFAULT_FLOW_LIMITS, ...limits };
  }

  /** The limits in force. */
  get limits(): FlowLimits {
    return { ...this.#limits };
  }

  /** Changes limits at runtime (existing flows are unaffected; new rates apply to new buckets). */
  setLimits(limits: Partial<FlowLimits>): void {
    this.#limits = { ...this.#limits, ...limits };
    if (limits.newFlowsPerSecond !== undefined || limits.newFlowBurst !== undefined) {
      for (const e of this.#perPeer.values()) e.bucket = this.#bucket();
    }
  }

  #bucket(): TokenBucket {
    return new TokenBucket({
      rate: this.#limits.newFlowsPerSecond,
      burst: this.#limits.newFlowBurst,
      now: this.now,
    });
  }

  /** Tries to admit a flow for `peer`; on success the caller must call `release(peer)` once. */
  admit(peer: string): LimitReason | null {
    if (this.#open >= this.#limits.maxFlows) return "limit-global";
    let e = this.#perPeer.get(peer);
    if (!e) this.#perPeer.set(peer, e = { open: 0, bucket: this.#bucket() });
    if (e.open >= this.#limits.maxFlowsPerPeer) return "limit-peer";
    if (!e.bucket.take()) return "limit-rate";
    e.open++;
    this.#open++;
    return null;
  }

  /** Releases an admitted flow. */
  release(peer: string): void {
    const e = this.#perPeer.get(peer);
    if (!e || e.open === 0) return;
    e.open--;
    this.#open--;
  }

  /**
   * A dial just ran out of descriptors: cap concurrent flows a margin below what is open now, so
   * the runtime keeps descriptors for itself (it fails hard without them). Idempotent.
   */
  learnDescriptorLimit(
    log?: { warn(msg: string, fields: Record<string, unknown>): unknown },
  ): void {
    const cap = Math.max(1, this.#open - DESCRIPTOR_MARGIN);
    if (cap >= this.#limits.maxFlows) return;
    this.#limits = { ...this.#limits, maxFlows: cap };
    log?.warn("out of file descriptors: new flows limited", {
      maxFlows: cap,
      hint: "raise the open-file limit or grant --allow-read=/proc/self/limits so bounds fit it",
    });
  }

  /** Flows open now. */
  get open(): number {
    return this.#open;
  }
}
