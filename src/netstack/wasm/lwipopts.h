/*
 * lwIP options for the @newt/proxy netstack (lwIP 2.1.3, wasm32, NO_SYS=1, raw API).
 *
 * Memory model: every pool and the heap are static arrays sized here; wasm memory never grows.
 * These are compile-time ceilings. Runtime options (per-flow window, send quota, flow limits)
 * are set from TS at or below them (see glue.c newt_config).
 */
#ifndef NEWT_LWIPOPTS_H
#define NEWT_LWIPOPTS_H

/* ---- system ---- */
#define NO_SYS 1
#define LWIP_TIMERS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_NETIF_API 0
#define LWIP_SINGLE_NETIF 1
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_TX_SINGLE_PBUF 1 /* outbound packets are contiguous: no copy at the boundary */
#define MEM_ALIGNMENT 8

/* ---- protocols ---- */
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_UDPLITE 0
#define LWIP_TCP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_NUM_ADDRESSES 4
#define LWIP_ND6_QUEUEING 0
#define LWIP_ND6_NUM_NEIGHBORS 4
#define LWIP_ND6_NUM_DESTINATIONS 16
#define LWIP_ND6_NUM_PREFIXES 4
#define LWIP_ND6_NUM_ROUTERS 2
#define IP_FORWARD 0
#define LWIP_IPV6_FORWARD 0
#define IP_DEFAULT_TTL 64
#define LWIP_BROADCAST_PING 0
#define LWIP_MULTICAST_PING 0

/* Reassembly and fragmentation, bounded: large UDP replies (EDNS, nested WireGuard) must fit. */
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_FRAG 1
#define IP_REASS_MAXAGE 3 /* seconds (IP_TMR_INTERVAL ticks) */
#define IP_REASS_MAX_PBUFS 128
#define IP6_REASS_MAXAGE 3
#define MEMP_NUM_REASSDATA 32
#define MEMP_NUM_FRAG_PBUF 128
#define IP_FRAG_USES_STATIC_BUF 0

/* ---- memory: static pools, no malloc ---- */
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_USE_POOLS 0
/* Heap for outbound TCP data (tcp_write copies) and UDP/ICMP sends. */
#define MEM_SIZE (16 * 1024 * 1024)
/* Inbound packets, out-of-order segments and reassembly use the pbuf pool (6,144 x 1,600 bytes:
   one flow's out-of-order queue may take 3 of 8 of it, as 1,536 of 4,096 did before the window
   grew to 3 MiB). */
#define PBUF_POOL_SIZE 6144
#define PBUF_POOL_BUFSIZE 1600
#define MEMP_NUM_PBUF 64
#define MEMP_NUM_UDP_PCB 512
#define MEMP_NUM_TCP_PCB 4096
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define MEMP_NUM_TCP_SEG 16384
/* lwIP's own timers, the pace timer (glue.c pace_tick, one armed at most) and one spare */
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 2)

/* ---- TCP ---- */
#define TCP_MSS 1460 /* advertised MSS is min(TCP_MSS, MTU-40/MTU-60) */
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 6
/* The window ceiling at scale 6 (4 MiB); the per-flow window is a runtime option at or below it. */
#define TCP_WND (0xFFFFU << TCP_RCV_SCALE)
#define TCP_SND_BUF (8 * 1024 * 1024) /* the most a flow's send quota may grow to */
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
/* Must be set explicitly when TCP_SND_BUF exceeds 64 KiB (the default formula overflows u16). */
#define TCP_SNDLOWAT (32 * 1024)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE TCP_MSS
/* lwIP's own range (IANA's dynamic ports), but a random start of 0xffff is not allowed: the
   first tcp_new_port() wrapped it to 0 and a dial failed with ERR_BUF (one stack in 16,384),
   later dials then took ports 1, 2, ... */
#define TCP_LOCAL_PORT_RANGE_START 0xc000
#define TCP_LOCAL_PORT_RANGE_END 0xffff
#define TCP_ENSURE_LOCAL_PORT_RANGE(port) \
  ((u16_t)((((port) & (u16_t)~TCP_LOCAL_PORT_RANGE_START) % 0x3fff) + TCP_LOCAL_PORT_RANGE_START))
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES (3 * 1024 * 1024) /* the default window: out-of-order data is kept, not dropped */
#define TCP_OOSEQ_MAX_PBUFS 2304
/* The sender's pacer (tcp_recovery.patch, newt_tcp_pace_credit): on a short path new data leaves
   at 5/4 of the highest recent delivery rate (a long path's gains are below; 2x in slow start,
   never below half a window per lowest RTT), timed in microseconds, in bursts of 100 us of that
   rate or a tenth of the lowest RTT when that is longer (8 segments at least); up to 2 ms of it may be banked while that is at most 64
   segments, a bound each loss recovery halves and each round without one raises by a segment.
   NEWT_TCP_PACE_GAIN_X4 0 turns it off. */
#define NEWT_TCP_PACE_GAIN_X4 5
#define NEWT_TCP_PACE_BURST_US 100
#define NEWT_TCP_PACE_BURST_PER_RTT_MS 100
#define NEWT_TCP_PACE_BURST_SEGS 8U
#define NEWT_TCP_PACE_BANK_US 2000
#define NEWT_TCP_PACE_BANK_SEGS 64U
/* Flows whose lowest RTT is at least NEWT_TCP_PACE_TIMER_MIN_RTT_MS are also released by a timer
   of NEWT_TCP_PACE_TICK_MS while the pacer holds them (glue.c pace_tick; JS timers fire ~2 ms
   apart): their ACKs come a round trip apart in clumps. */
#define NEWT_TCP_PACE_TIMER_MIN_RTT_MS 4
#define NEWT_TCP_PACE_TICK_MS 1
/* A long path: a flow whose lowest RTT is at least NEWT_TCP_PACE_TIMER_MIN_RTT_MS. Its pacer
   follows BBR (tcp_recovery.patch, newt_tcp_pace_gain_x4): 2x until NEWT_TCP_STARTUP_ROUNDS
   rounds have not raised the rate by a quarter, then NEWT_TCP_PACE_PROBE_X4 / 4 for one round of
   the model's window, NEWT_TCP_PACE_DRAIN_X4 / 4 the next and 1x for the rest, and each of its
   losses holds the window at the model's floor. A short path paces at a steady
   NEWT_TCP_PACE_GAIN_X4 / 4 and keeps TCP Veno's rule for losses. */
#define NEWT_TCP_LONG_PATH(pcb) ((pcb)->newt_min_rtt >= NEWT_TCP_PACE_TIMER_MIN_RTT_MS)
#define NEWT_TCP_STARTUP_ROUNDS 3U
#define NEWT_TCP_PACE_PROBE_X4 6U
#define NEWT_TCP_PACE_DRAIN_X4 3U
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
/* TCP timestamps (RFC 7323) are compiled in, and a stack answers a SYN that offers them (and
   offers them on its own SYNs) only when enabled (NetstackOptions.tcpTimestamps, config key 8;
   tcp_timestamps.patch): a client's tcp_tw_reuse needs them to reuse a port whose last
   connection to the same target is still in TIME_WAIT, and they cost 12 bytes a segment (~2% of
   a download in interleaved bench runs). bench/PERFORMANCE.md, sixteenth session. */
#define LWIP_TCP_TIMESTAMPS 1
extern unsigned char newt_tcp_timestamps; /* glue.c (u8_t), config key 8 */
#define TCP_LISTEN_BACKLOG 0
/* A window update (an ACK of its own when the reader frees room) once the window has grown by a
   quarter of the configured window, at most 64 KiB, not lwIP's 4 segments: ACKs of data carry
   the window as well, and an update per 4 segments read cost one tunnel datagram each. The
   glue sets it with the window (newt_config). */
extern unsigned int newt_wnd_update_threshold;
#define TCP_WND_UPDATE_THRESHOLD newt_wnd_update_threshold
#define TCP_TMR_INTERVAL 25 /* delayed ACKs and retransmits run on this timer */
#define TCP_MSL 15000UL /* TIME_WAIT lasts 2*MSL = 30 s */
#define TCP_MAXRTX 12
#define TCP_SYNMAXRTX 4
#define LWIP_TCP_KEEPALIVE 1
#define TCP_KEEPIDLE_DEFAULT 60000UL
#define TCP_KEEPINTVL_DEFAULT 30000UL
#define TCP_KEEPCNT_DEFAULT 9U
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
/* one slot: the passive-open callback that sets the window before the SYN-ACK (glue.c) */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 1
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0

/* ---- checksums: generated on output, verified on input ---- */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_GEN_ICMP6 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
#define CHECKSUM_CHECK_ICMP6 1
#define LWIP_CHECKSUM_ON_COPY 1

/* ---- statistics: drop counters for stats() ---- */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define LINK_STATS 0
#define ETHARP_STATS 0
#define IP_STATS 1
#define IPFRAG_STATS 1
#define ICMP_STATS 1
#define UDP_STATS 1
#define TCP_STATS 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define SYS_STATS 0
#define IP6_STATS 1
#define ICMP6_STATS 1
#define IP6_FRAG_STATS 1
#define MLD6_STATS 0
#define ND6_STATS 0
#define MIB2_STATS 0

/* ---- hooks into glue.c ---- */
struct netif;
struct pbuf;
/* Destination classes of the packet being processed (ip_current_dest_addr()). */
#define NEWT_DST_OWN 0
#define NEWT_DST_PREFIX 1
#define NEWT_DST_FOREIGN 2
#define NEWT_DST_MULTICAST 3
/* Verdicts of newt_tcp_foreign_input. */
#define NEWT_TCP_PASS 0
#define NEWT_TCP_CONSUMED 1
#define NEWT_TCP_APPROVED 2
int newt_dst_class(void);
int newt_ip_accept_foreign(unsigned int proto);
int newt_tcp_foreign_input(void *p, void *tcphdr, unsigned int flags, unsigned int seqno);
void *newt_tcp_catchall(void);
void *newt_udp_catchall(void);
struct netif *newt_route(void);
unsigned int newt_tcp_isn(const void *local_ip, unsigned short local_port, const void *remote_ip,
                          unsigned short remote_port);
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  newt_tcp_isn((local_ip), (local_port), (remote_ip), (remote_port))
/* One interface: every route leads to it. */
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) newt_route()
#define LWIP_HOOK_IP6_ROUTE(src, dest) newt_route()

#endif /* NEWT_LWIPOPTS_H */
