/**
 * Held SYNs: a SYN to a foreign destination waits here (no SYN-ACK yet) until the application
 * accepts or refuses it. Bounded globally and per source address; a retransmitted SYN is
 * absorbed, a new ISN on the same 4-tuple replaces the held packet, a peer RST cancels, and an
 * undecided SYN is refused after a timeout.
 * @module
 */
import { type Family, type FlowAddr, formatIp } from "./addr.ts";
import { flowTimers, type QueuedTimer } from "../timer_queue.ts";
import { LazyDeleteMap } from "../lazy_delete_map.ts";

/** A parsed held SYN (plain IP packet as produced by glue.c). */
export interface SynInfo {
  /** Address family. */
  family: Family;
  /** The peer (source of the SYN). */
  src: FlowAddr;
  /** The original destination. */
  dst: FlowAddr;
  /** Sequence number of the SYN. */
  seq: number;
  /** 4-tuple key. */
  key: string;
}

/** Parses the tuple of a plain IPv4/IPv6 + TCP packet; null if it is not one. */
export function parseSyn(packet: Uint8Array): SynInfo | null {
  const v = packet[0]! >> 4;
  let family: Family, srcOff: number, dstOff: number, tcpOff: number;
  if (v === 4) {
    family = 4;
    srcOff = 12;
    dstOff = 16;
    tcpOff = (packet[0]! & 0x0f) * 4;
  } else if (v === 6) {
    family = 6;
    srcOff = 8;
    dstOff = 24;
    tcpOff = 40;
  } else {
    return null;
  }
  if (packet.length < tcpOff + 20 || tcpOff < 20) return null;
  const src = formatIp(family, packet, srcOff);
  const dst = formatIp(family, packet, dstOff);
  const sport = (packet[tcpOff]! << 8) | packet[tcpOff + 1]!;
  const dport = (packet[tcpOff + 2]! << 8) | packet[tcpOff + 3]!;
  const seq = ((packet[tcpOff + 4]! << 24) | (packet[tcpOff + 5]! << 16) |
    (packet[tcpOff + 6]! << 8) | packet[tcpOff + 7]!) >>> 0;
  return {
    family,
    src: { address: src, port: sport },
    dst: { address: dst, port: dport },
    seq,
    key: flowKey(family, src, sport, dst, dport),
  };
}

/** Whether a packet is a TCP segment with RST set (IPv4, or IPv6 without extension headers). */
export function isTcpRst(p: Uint8Array): boolean {
  const v = p[0]! >> 4;
  let tcpOff: number;
  if (v === 4 && p[9] === 6) tcpOff = (p[0]! & 0x0f) * 4;
  else if (v === 6 && p[6] === 6) tcpOff = 40;
  else return false;
  return p.length >= tcpOff + 20 && (p[tcpOff + 13]! & 0x04) !== 0;
}

/** The key of a TCP 4-tuple as seen from the peer (src) to the destination (dst). */
export function flowKey(
  family: Family,
  src: string,
  sport: number,
  dst: string,
  dport: number,
): string {
  return `${family}|${src}|${sport}|${dst}|${dport}`;
}

/** Limits of the held-SYN table. */
export interface HeldSynLimits {
  /** Held SYNs in total. */
  maxHeld: number;
  /** Held SYNs per source address. */
  maxHeldPerSource: number;
  /** ms a SYN may wait for a decision before it is refused. */
  holdTimeoutMs: number;
}

/** One held SYN. */
export interface HeldSyn {
  /** Parsed tuple. */
  info: SynInfo;
  /** The SYN as a plain IP packet (replaced when the peer picks a new ISN). */
  packet: Uint8Array;
  /** Aborted when the peer cancels (RST), the hold times out, or the stack closes. */
  controller: AbortController;
  /** Hold timer. */
  timer: QueuedTimer;
  /** accept() or refuse() was called. */
  decided: boolean;
}

/** Counters of the held-SYN table. */
export interface HeldSynCounters {
  /** New SYNs held. */
  held: number;
  /** Retransmitted SYNs absorbed. */
  retransmitsAbsorbed: number;
  /** Held SYNs replaced by a new ISN on the same 4-tuple. */
  isnReplaced: number;
  /** Refused because the table (or the source's share) was full. */
  overLimit: number;
  /** Cancelled by a peer RST. */
  peerCancelled: number;
  /** Refused after the hold timeout. */
  timedOut: number;
}

/** What happened to an incoming SYN. */
export type SynVerdict = "new" | "retransmit" | "replaced" | "over-limit";

/** The table of held SYNs. */
export class HeldSynTable {
  #byKey = new LazyDeleteMap<string, HeldSyn>();
  #perSource = new LazyDeleteMap<string, number>();
  #limits: HeldSynLimits;
  #onTimeout: (held: HeldSyn) => void;
  /** Counters (read by stats()). */
  readonly counters: HeldSynCounters = {
    held: 0,
    retransmitsAbsorbed: 0,
    isnReplaced: 0,
    overLimit: 0,
    peerCancelled: 0,
    timedOut: 0,
  };

  /** Creates the table; `onTimeout` refuses a SYN nobody decided on in time. */
  constructor(limits: HeldSynLimits, onTimeout: (held: HeldSyn) => void) {
    this.#limits = limits;
    this.#onTimeout = onTimeout;
  }

  /** Number of SYNs currently held. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Looks up a held SYN by key. */
  get(key: string): HeldSyn | undefined {
    return this.#byKey.get(key);
  }

  /** Records a SYN; returns what it was and, for a new one, the entry. */
  offer(info: SynInfo, packet: Uint8Array): { verdict: SynVerdict; held?: HeldSyn } {
    const existing = this.#byKey.get(info.key);
    if (existing) {
      if (existing.info.seq === info.seq) {
        this.counters.retransmitsAbsorbed++;
        return { verdict: "retransmit", held: existing };
      }
      existing.info = info;
      existing.packet = packet;
      this.counters.isnReplaced++;
      return { verdict: "replaced", held: existing };
    }
    const perSource = this.#perSource.get(info.src.address) ?? 0;
    if (this.#byKey.size >= this.#limits.maxHeld || perSource >= this.#limits.maxHeldPerSource) {
      this.counters.overLimit++;
      return { verdict: "over-limit" };
    }
    const held: HeldSyn = {
      info,
      packet,
      controller: new AbortController(),
      timer: flowTimers.schedule(() => {
        if (this.#byKey.get(info.key) !== held) return;
        this.counters.timedOut++;
        this.remove(held, "hold timeout");
        this.#onTimeout(held);
      }, this.#limits.holdTimeoutMs),
      decided: false,
    };
    this.#byKey.set(info.key, held);
    this.#perSource.set(info.src.address, perSource + 1);
    this.counters.held++;
    return { verdict: "new", held };
  }

  /** A RST from the peer for `key`: cancels the held SYN, if any. */
  cancel(key: string): HeldSyn | undefined {
    const held = this.#byKey.get(key);
    if (!held) return undefined;
    this.counters.peerCancelled++;
    this.remove(held, "peer reset");
    return held;
  }

  /** Removes an entry (decision made, cancelled or timed out); aborts its signal unless decided. */
  remove(held: HeldSyn, reason?: string): void {
    if (this.#byKey.get(held.info.key) !== held) return;
    flowTimers.cancel(held.timer);
    this.#byKey.delete(held.info.key);
    const n = (this.#perSource.get(held.info.src.address) ?? 1) - 1;
    if (n <= 0) this.#perSource.delete(held.info.src.address);
    else this.#perSource.set(held.info.src.address, n);
    if (reason !== undefined) held.controller.abort(new Error(reason));
  }

  /** Drops every entry (stack closing). */
  clear(): void {
    for (const held of [...this.#byKey.values()]) this.remove(held, "netstack closed");
  }
}
