/**
 * Names of the netstack's counters. The first block mirrors `stat_out` in wasm/glue.c word for
 * word; the rest are kept in TypeScript.
 * @module
 */

/** Counters read from the wasm module, in glue.c's order. */
export const WASM_STAT_NAMES = [
  "packets.in",
  "drop.length",
  "drop.version",
  "drop.multicast",
  "drop.no_memory",
  "drop.foreign_protocol",
  "tcp.syn_events",
  "drop.syn_too_big",
  "tcp.peer_rst_events",
  "udp.foreign_datagrams",
  "packets.out",
  "tcp.accept_no_slot",
  "tcp.write_no_memory",
  "drop.ip4",
  "drop.ip4_checksum",
  "drop.ip4_length",
  "drop.ip4_protocol",
  "drop.ip4_fragment",
  "drop.ip6",
  "drop.ip6_length",
  "drop.ip6_protocol",
  "drop.ip6_fragment",
  "drop.icmp",
  "drop.icmp6",
  "drop.tcp",
  "drop.tcp_checksum",
  "drop.tcp_length",
  "tcp.pcb_memory_errors",
  "tcp.routing_errors",
  "drop.udp",
  "drop.udp_checksum",
  "drop.udp_length",
  "drop.udp_protocol",
  "pool.heap_used",
  "pool.heap_size",
  "pool.heap_max_used",
  "pool.tcp_pcb_used",
  "pool.tcp_pcb_size",
  "pool.tcp_seg_used",
  "pool.tcp_seg_size",
  "pool.pbuf_used",
  "pool.pbuf_size",
  "pool.pbuf_exhausted",
  "pool.udp_pcb_used",
  "tcp.flow_ids_used",
  "pool.tcp_pcb_bytes",
  "tcp.rto",
  "tcp.rto_sacked_resent",
  "tcp.fast_recoveries",
  "tcp.sack_retransmits",
  "tcp.partial_ack_retransmits",
  "tcp.model_held_window",
  "tcp.lost_retransmits",
  "tcp.acks_coalesced",
  "tcp.window_updates",
  "tcp.window_reopened",
  "tcp.paced",
] as const;

/** Counters kept by the TypeScript binding. */
export const TS_STAT_NAMES = [
  "tcp.connections",
  "tcp.held",
  "tcp.held_total",
  "tcp.syn_retransmits_absorbed",
  "tcp.syn_isn_replaced",
  "tcp.held_over_limit",
  "tcp.held_peer_cancelled",
  "tcp.held_timed_out",
  "tcp.refused",
  "tcp.refused_no_handler",
  "tcp.accept_failed",
  "tcp.handshake_timeouts",
  "tcp.accept_peer_reset",
  "tcp.write_retries",
  "tcp.mss_clamped",
  "udp.no_handler",
  "udp.send_failed",
  "icmp.unreachable_sent",
  "packets.out_no_handler",
  "packets.in_deferred",
  "packets.in_bad_size",
  "ip6.nested_fragment_dropped",
  "callback_errors",
] as const;

/** Name of one counter. */
export type StatName = typeof WASM_STAT_NAMES[number] | typeof TS_STAT_NAMES[number];

/** A snapshot of every counter, by name. */
export type NetstackStats = Record<StatName, number>;
