/*
 * Glue between lwIP (NO_SYS=1, raw API) and the TypeScript binding of @newt/proxy.
 *
 * Boundary: JS writes an inbound packet (or outbound TCP/UDP payload) into the static `io`
 * region and calls an export with its length. lwIP output and events reach JS through the
 * imports below; pointers passed to JS are valid only during the call. JS never calls back into
 * lwIP from inside an import (the binding queues such work until the export returns).
 *
 * Flows: every tcp_pcb handed to JS gets a small integer id (slot in `flows`); UDP sockets get
 * an id in `socks`. Id 0 means "none" (the catch-all listener / catch-all UDP pcb).
 */
#include "lwip/init.h"
#include "lwip/def.h"
#include "lwip/mem.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/ip6.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/inet_chksum.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/prot/tcp.h"
#include "lwip/prot/udp.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/icmp6.h"

#include <string.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("newt"), import_name(#name)))

/* ---- imports (implemented in src/netstack/stack.ts) ---- */
IMPORT(output) void js_output(const u8_t *packet, u32_t len);
IMPORT(now) u32_t js_now(void);
IMPORT(now_us) u32_t js_now_us(void);
IMPORT(fatal) void js_fatal(const char *msg, u32_t line);
IMPORT(tcp_syn) void js_tcp_syn(const u8_t *packet, u32_t len);
IMPORT(tcp_rst) void js_tcp_rst(const u8_t *packet, u32_t len);
IMPORT(tcp_accepted) void js_tcp_accepted(u32_t listener, u32_t fid);
IMPORT(tcp_connected) void js_tcp_connected(u32_t fid, s32_t err);
IMPORT(tcp_data) void js_tcp_data(u32_t fid, const u8_t *data, u32_t len);
IMPORT(tcp_fin) void js_tcp_fin(u32_t fid);
IMPORT(tcp_sent) void js_tcp_sent(u32_t fid);
IMPORT(tcp_err) void js_tcp_err(u32_t fid, s32_t err);
IMPORT(udp_recv) void js_udp_recv(u32_t sock, const u8_t *data, u32_t len);

/* ---- static regions shared with JS ---- */
#define IO_SIZE (65536 + 64)
static u8_t io[IO_SIZE] __attribute__((aligned(16)));
static u8_t out_buf[65536] __attribute__((aligned(16)));
static u8_t udp_buf[65536] __attribute__((aligned(16)));
#define SYN_BUF_SIZE 1600
static u8_t syn_buf[SYN_BUF_SIZE] __attribute__((aligned(16)));
/*
 * Tuple region: [0] family (4|6), [2..4) local port, [4..6) remote port,
 * [8..24) local address, [24..40) remote address. "Local" is the stack's side (for a proxied
 * flow: the original destination).
 */
static u8_t tuple[40] __attribute__((aligned(8)));

/* ---- counters of our own (lwIP's are read from lwip_stats) ---- */
enum {
  C_IN_PACKETS,
  C_DROP_LENGTH,
  C_DROP_VERSION,
  C_DROP_MULTICAST,
  C_DROP_NOMEM,
  C_DROP_FOREIGN_PROTO,
  C_TCP_SYN_EVENTS,
  C_TCP_SYN_TOO_BIG,
  C_TCP_RST_EVENTS,
  C_UDP_FOREIGN,
  C_OUT_PACKETS,
  C_ACCEPT_NO_SLOT,
  C_WRITE_NOMEM,
  C_SENT_HELD,
  C_COUNT
};
static u32_t counters[C_COUNT];

/* ---- addresses ---- */
#define MAX_OWN 8
struct own_addr {
  u8_t family; /* 4 or 6; 0 = unused */
  u8_t prefix;
  ip_addr_t addr;
};
static struct own_addr own[MAX_OWN];
static struct netif nif;

/* ---- flows ---- */
#define MAX_FLOWS (MEMP_NUM_TCP_PCB + MEMP_NUM_TCP_PCB_LISTEN + 1)
static struct tcp_pcb *flows[MAX_FLOWS];
static u16_t flow_free_list[MAX_FLOWS];
static u32_t flow_free_top;
#define MAX_SOCKS (MEMP_NUM_UDP_PCB + 1)
static struct udp_pcb *socks[MAX_SOCKS];

static struct tcp_pcb_listen *catchall_tcp;
static struct udp_pcb *catchall_udp;
static struct udp_pcb *udp_tx;
static int syn_approved;
/* Outcome of the last approved SYN: 1 = reached the catch-all, 2 = no pcb memory (RST sent). */
static int syn_outcome;

/* Runtime options (ceilings are compile-time: TCP_WND, TCP_SND_BUF, MEM_SIZE). */
static u32_t opt_window = 2 * 1024 * 1024;
unsigned int newt_wnd_update_threshold = 64 * 1024;
static u32_t opt_send_quota = 1024 * 1024;
static u32_t opt_send_quota_max = TCP_SND_BUF;
static u32_t opt_heap_reserve = 1024 * 1024;
static u32_t opt_keep_idle = TCP_KEEPIDLE_DEFAULT;
static u32_t opt_keep_intvl = TCP_KEEPINTVL_DEFAULT;
static u32_t opt_keep_cnt = TCP_KEEPCNT_DEFAULT;

/* ---- lwIP platform functions ---- */
u32_t sys_now(void) { return js_now(); }
u32_t newt_now_us(void) { return js_now_us(); }

void newt_assert_failed(const char *msg, int line) {
  js_fatal(msg, (u32_t)line);
  __builtin_trap();
}

/* SipHash-2-4: keyed hash for ISNs and LWIP_RAND. */
static u64_t sip_k0, sip_k1, rand_k0, rand_k1, rand_ctr;
#define ROTL(x, b) (u64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                          \
  do {                                                                                    \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                            \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                               \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                               \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                            \
  } while (0)

static u64_t siphash(u64_t k0, u64_t k1, const u8_t *in, u32_t inlen) {
  u64_t v0 = 0x736f6d6570736575ULL ^ k0;
  u64_t v1 = 0x646f72616e646f6dULL ^ k1;
  u64_t v2 = 0x6c7967656e657261ULL ^ k0;
  u64_t v3 = 0x7465646279746573ULL ^ k1;
  u64_t b = ((u64_t)inlen) << 56;
  u32_t i;
  u32_t end = inlen - (inlen % 8);
  for (i = 0; i < end; i += 8) {
    u64_t m;
    memcpy(&m, in + i, 8);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  for (u32_t j = 0; j < inlen % 8; j++) b |= ((u64_t)in[end + j]) << (8 * j);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

unsigned int newt_rand(void) {
  u8_t m[8];
  rand_ctr++;
  memcpy(m, &rand_ctr, 8);
  return (unsigned int)siphash(rand_k0, rand_k1, m, 8);
}

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M in 4 us ticks. */
unsigned int newt_tcp_isn(const void *lip, unsigned short lport, const void *rip,
                          unsigned short rport) {
  const ip_addr_t *l = (const ip_addr_t *)lip;
  const ip_addr_t *r = (const ip_addr_t *)rip;
  u8_t m[36];
  memset(m, 0, sizeof m);
  if (IP_IS_V6(l)) {
    memcpy(m, ip_2_ip6(l)->addr, 16);
    memcpy(m + 16, ip_2_ip6(r)->addr, 16);
  } else {
    memcpy(m, &ip_2_ip4(l)->addr, 4);
    memcpy(m + 16, &ip_2_ip4(r)->addr, 4);
  }
  m[32] = (u8_t)(lport >> 8);
  m[33] = (u8_t)lport;
  m[34] = (u8_t)(rport >> 8);
  m[35] = (u8_t)rport;
  return (unsigned int)(js_now() * 250u + (u32_t)siphash(sip_k0, sip_k1, m, sizeof m));
}

/* ---- destination classes ---- */
static int prefix_match(const u8_t *a, const u8_t *b, u32_t bits) {
  u32_t bytes = bits / 8, rem = bits % 8;
  if (memcmp(a, b, bytes) != 0) return 0;
  if (rem == 0) return 1;
  u8_t mask = (u8_t)(0xff << (8 - rem));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

static int class_of4(const u8_t *a) {
  if (a[0] >= 224 || (a[0] == 0)) return NEWT_DST_MULTICAST; /* multicast, reserved, 0/8 */
  int cls = NEWT_DST_FOREIGN;
  for (int i = 0; i < MAX_OWN; i++) {
    if (own[i].family != 4) continue;
    const u8_t *o = (const u8_t *)&ip_2_ip4(&own[i].addr)->addr;
    if (memcmp(a, o, 4) == 0) return NEWT_DST_OWN;
    if (own[i].prefix < 31 && prefix_match(a, o, own[i].prefix)) {
      /* the prefix's broadcast address counts as broadcast */
      u32_t host_bits = 32u - own[i].prefix;
      u32_t v = ((u32_t)a[0] << 24) | ((u32_t)a[1] << 16) | ((u32_t)a[2] << 8) | a[3];
      u32_t host_mask = host_bits >= 32 ? 0xffffffffu : ((1u << host_bits) - 1u);
      if ((v & host_mask) == host_mask) return NEWT_DST_MULTICAST;
      cls = NEWT_DST_PREFIX;
    } else if (prefix_match(a, o, own[i].prefix)) {
      cls = NEWT_DST_PREFIX;
    }
  }
  return cls;
}

static int class_of6(const u8_t *a) {
  static const u8_t zero[16];
  if (a[0] == 0xff || memcmp(a, zero, 16) == 0) return NEWT_DST_MULTICAST;
  int cls = NEWT_DST_FOREIGN;
  for (int i = 0; i < MAX_OWN; i++) {
    if (own[i].family != 6) continue;
    const u8_t *o = (const u8_t *)ip_2_ip6(&own[i].addr)->addr;
    if (memcmp(a, o, 16) == 0) return NEWT_DST_OWN;
    if (prefix_match(a, o, own[i].prefix)) cls = NEWT_DST_PREFIX;
  }
  return cls;
}

static int class_of(const ip_addr_t *a) {
  if (IP_IS_V6(a)) return class_of6((const u8_t *)ip_2_ip6(a)->addr);
  return class_of4((const u8_t *)&ip_2_ip4(a)->addr);
}

int newt_dst_class(void) { return class_of(ip_current_dest_addr()); }

int newt_ip_accept_foreign(unsigned int proto) {
  int cls = newt_dst_class();
  if (cls == NEWT_DST_MULTICAST) return 0;
  if (ip_current_is_v6() || cls == NEWT_DST_OWN) return 1;
  if (proto == IP_PROTO_TCP || proto == IP_PROTO_UDP) return 1;
  counters[C_DROP_FOREIGN_PROTO]++;
  return 0;
}

struct netif *newt_route(void) { return &nif; }
void *newt_tcp_catchall(void) { return catchall_tcp; }
void *newt_udp_catchall(void) { return catchall_udp; }

/* ---- output ---- */
static err_t output_pbuf(struct pbuf *p) {
  if (p->next == NULL) {
    js_output((const u8_t *)p->payload, p->len);
  } else {
    /* tot_len is a u16_t: a chain always fits the 64 KiB out_buf */
    pbuf_copy_partial(p, out_buf, p->tot_len, 0);
    js_output(out_buf, p->tot_len);
  }
  counters[C_OUT_PACKETS]++;
  return ERR_OK;
}

static err_t output4(struct netif *n, struct pbuf *p, const ip4_addr_t *a) {
  LWIP_UNUSED_ARG(n);
  LWIP_UNUSED_ARG(a);
  return output_pbuf(p);
}

static err_t output6(struct netif *n, struct pbuf *p, const ip6_addr_t *a) {
  LWIP_UNUSED_ARG(n);
  LWIP_UNUSED_ARG(a);
  return output_pbuf(p);
}

static err_t netif_setup(struct netif *n) {
  n->name[0] = 'w';
  n->name[1] = 'g';
  n->output = output4;
  n->output_ip6 = output6;
  n->flags = 0; /* point-to-point: no ARP, no broadcast, no MLD */
  return ERR_OK;
}

/* ---- tuple helpers ---- */
static void put_addr(u8_t *dst, const ip_addr_t *a) {
  memset(dst, 0, 16);
  if (IP_IS_V6(a)) {
    memcpy(dst, ip_2_ip6(a)->addr, 16);
  } else {
    memcpy(dst, &ip_2_ip4(a)->addr, 4);
  }
}

static void fill_tuple(const ip_addr_t *local, u16_t lport, const ip_addr_t *remote, u16_t rport) {
  tuple[0] = IP_IS_V6(local) ? 6 : 4;
  tuple[1] = 0;
  memcpy(tuple + 2, &lport, 2);
  memcpy(tuple + 4, &rport, 2);
  put_addr(tuple + 8, local);
  put_addr(tuple + 24, remote);
}

/* Reads an address of `family` from 16 bytes at `src` (IPv4 uses the first 4). */
static void get_addr(ip_addr_t *a, u32_t family, const u8_t *src) {
  if (family == 6) {
    ip6_addr_t v6;
    memcpy(v6.addr, src, 16);
    ip6_addr_clear_zone(&v6);
    ip_addr_copy_from_ip6(*a, v6);
  } else {
    ip4_addr_t v4;
    memcpy(&v4.addr, src, 4);
    ip_addr_copy_from_ip4(*a, v4);
  }
}

/* ---- flow slots ---- */
static u32_t flow_alloc(struct tcp_pcb *pcb) {
  if (flow_free_top == 0) return 0;
  u32_t fid = flow_free_list[--flow_free_top];
  flows[fid] = pcb;
  return fid;
}

static void flow_release(u32_t fid) {
  if (fid == 0 || fid >= MAX_FLOWS || flows[fid] == NULL) return;
  flows[fid] = NULL;
  flow_free_list[flow_free_top++] = (u16_t)fid;
}

static struct tcp_pcb *flow_get(u32_t fid) {
  if (fid == 0 || fid >= MAX_FLOWS) return NULL;
  return flows[fid];
}

/* ---- TCP callbacks ---- */
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  u32_t fid = (u32_t)(uintptr_t)arg;
  LWIP_UNUSED_ARG(pcb);
  LWIP_UNUSED_ARG(err);
  if (p == NULL) {
    js_tcp_fin(fid);
    return ERR_OK;
  }
  /* Data is copied out by JS; the window opens only when the reader consumed it (newt_tcp_recved). */
  for (struct pbuf *q = p; q != NULL; q = q->next) {
    if (q->len > 0) js_tcp_data(fid, (const u8_t *)q->payload, q->len);
  }
  pbuf_free(p);
  return ERR_OK;
}

static u32_t flow_send_quota(struct tcp_pcb *pcb);
static u32_t flow_room(struct tcp_pcb *pcb, u32_t quota);

/**
 * ACKed data freed send space. While the flow still has a low-water mark's worth of data to
 * send (a quarter of its quota, at most TCP_SNDLOWAT), its writer is woken only once there is
 * room for that much: woken per ACK, a writer behind a window-bound flow queued a segment or
 * two per call, each a JS round trip and a tcp_write (four streams: tcp_write 4.8% of the main
 * thread, 3.0% with the mark, when it still walked the unsent queue). A flow about to run out
 * of data to send wakes its writer at once.
 */
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  LWIP_UNUSED_ARG(len);
  u32_t quota = flow_send_quota(pcb);
  u32_t lowat = quota / 4;
  if (lowat > TCP_SNDLOWAT) lowat = TCP_SNDLOWAT;
  u32_t to_send = pcb->snd_lbb - pcb->snd_nxt;
  if (to_send >= lowat && flow_room(pcb, quota) < lowat) {
    counters[C_SENT_HELD]++;
    return ERR_OK;
  }
  js_tcp_sent((u32_t)(uintptr_t)arg);
  return ERR_OK;
}

static void on_err(void *arg, err_t err) {
  u32_t fid = (u32_t)(uintptr_t)arg;
  /* the pcb is already freed by lwIP */
  if (fid != 0 && flow_get(fid) != NULL) {
    flows[fid] = NULL;
    flow_free_list[flow_free_top++] = (u16_t)fid;
    js_tcp_err(fid, err);
  }
}

static void apply_window(struct tcp_pcb *pcb) {
  /* The per-flow window is a runtime option below the compile-time TCP_WND ceiling. Set only
     before any data arrived: rcv_wnd never grows past it because JS returns only what it read. */
  tcpwnd_size_t w = (tcpwnd_size_t)opt_window;
  if (!(pcb->flags & TF_WND_SCALE) && w > 0xFFFF) w = 0xFFFF;
  if (w < pcb->rcv_wnd) {
    pcb->rcv_wnd = w;
    pcb->rcv_ann_wnd = w;
  } else if (pcb->flags & TF_WND_SCALE) {
    pcb->rcv_wnd = w;
    pcb->rcv_ann_wnd = w;
  }
}

/*
 * Passive open: set the window before the SYN-ACK leaves. lwIP sends the SYN-ACK from its
 * TCP_WND ceiling and records that right edge; lowering rcv_wnd later (in on_accept) cannot
 * move the announced edge back (lwIP never shrinks it), so the peer would be offered the
 * ceiling while only opt_window is real, and a slow reader would make lwIP drop in-window
 * data (a 3 s RTO stall). Only with window scaling: without it the window stays at lwIP's
 * 16-bit default here, which tcp_parseopt asserts on for a retransmitted SYN.
 */
static err_t on_passive_open(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb) {
  LWIP_UNUSED_ARG(id);
  LWIP_UNUSED_ARG(lpcb);
  if (cpcb->flags & TF_WND_SCALE) apply_window(cpcb);
  return ERR_OK;
}

static const struct tcp_ext_arg_callbacks listen_ext_callbacks = {NULL, on_passive_open};
static u8_t listen_ext_id;

static void setup_flow(struct tcp_pcb *pcb, u32_t fid) {
  tcp_arg(pcb, (void *)(uintptr_t)fid);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
  tcp_nagle_disable(pcb);
  ip_set_option(pcb, SOF_KEEPALIVE);
  pcb->keep_idle = opt_keep_idle;
  pcb->keep_intvl = opt_keep_intvl;
  pcb->keep_cnt = opt_keep_cnt;
}

static err_t on_accept(void *arg, struct tcp_pcb *npcb, err_t err) {
  if (err != ERR_OK || npcb == NULL) {
    if (syn_approved) syn_outcome = 2;
    return ERR_VAL;
  }
  u32_t fid = flow_alloc(npcb);
  if (fid == 0) {
    counters[C_ACCEPT_NO_SLOT]++;
    tcp_abort(npcb);
    return ERR_ABRT;
  }
  setup_flow(npcb, fid);
  apply_window(npcb);
  fill_tuple(&npcb->local_ip, npcb->local_port, &npcb->remote_ip, npcb->remote_port);
  js_tcp_accepted((u32_t)(uintptr_t)arg, fid);
  return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  apply_window(pcb);
  js_tcp_connected((u32_t)(uintptr_t)arg, err);
  return ERR_OK;
}

/* ---- held SYNs: a SYN to a foreign destination leaves the stack as a plain IP packet ---- */
static u32_t build_plain_packet(struct pbuf *p, const struct tcp_hdr *h, u32_t with_payload) {
  u32_t hdrlen = TCPH_HDRLEN_BYTES(h);
  u32_t iphl = ip_current_is_v6() ? IP6_HLEN : IP_HLEN;
  u32_t payload = with_payload ? p->tot_len : 0;
  /* options must sit contiguously after the header (they do unless a reassembled SYN split them) */
  if (hdrlen < TCP_HLEN || iphl + hdrlen + payload > SYN_BUF_SIZE) return 0;
  if (with_payload && payload > 0 && (const u8_t *)p->payload != (const u8_t *)h + hdrlen) return 0;
  u8_t *b = syn_buf;
  u32_t total = iphl + hdrlen + payload;
  if (ip_current_is_v6()) {
    memset(b, 0, IP6_HLEN);
    b[0] = 0x60;
    b[4] = (u8_t)((hdrlen + payload) >> 8);
    b[5] = (u8_t)(hdrlen + payload);
    b[6] = IP6_NEXTH_TCP;
    b[7] = 64;
    memcpy(b + 8, ip6_current_src_addr()->addr, 16);
    memcpy(b + 24, ip6_current_dest_addr()->addr, 16);
  } else {
    memset(b, 0, IP_HLEN);
    b[0] = 0x45;
    b[2] = (u8_t)(total >> 8);
    b[3] = (u8_t)total;
    b[8] = 64;
    b[9] = IP_PROTO_TCP;
    memcpy(b + 12, &ip4_current_src_addr()->addr, 4);
    memcpy(b + 16, &ip4_current_dest_addr()->addr, 4);
    u16_t ck = inet_chksum(b, IP_HLEN);
    memcpy(b + 10, &ck, 2);
  }
  /* tcp_input converted some header fields to host order in place; restore network order */
  struct tcp_hdr *t = (struct tcp_hdr *)(b + iphl);
  memcpy(t, h, hdrlen);
  t->src = lwip_htons(h->src);
  t->dest = lwip_htons(h->dest);
  t->seqno = lwip_htonl(h->seqno);
  t->ackno = lwip_htonl(h->ackno);
  t->wnd = lwip_htons(h->wnd);
  if (payload > 0) pbuf_copy_partial(p, b + iphl + hdrlen, (u16_t)payload, 0);
  return total;
}

int newt_tcp_foreign_input(void *pv, void *hv, unsigned int flags, unsigned int seqno) {
  struct pbuf *p = (struct pbuf *)pv;
  const struct tcp_hdr *h = (const struct tcp_hdr *)hv;
  LWIP_UNUSED_ARG(seqno);
  if (flags & TCP_RST) {
    u32_t len = build_plain_packet(p, h, 0);
    counters[C_TCP_RST_EVENTS]++;
    if (len > 0) js_tcp_rst(syn_buf, len);
    return NEWT_TCP_CONSUMED;
  }
  if ((flags & (TCP_SYN | TCP_ACK | TCP_FIN)) != TCP_SYN) return NEWT_TCP_PASS;
  if (syn_approved) {
    syn_outcome = 1;
    return NEWT_TCP_APPROVED;
  }
  u32_t len = build_plain_packet(p, h, 1);
  if (len == 0) {
    counters[C_TCP_SYN_TOO_BIG]++;
    return NEWT_TCP_CONSUMED;
  }
  counters[C_TCP_SYN_EVENTS]++;
  js_tcp_syn(syn_buf, len);
  return NEWT_TCP_CONSUMED;
}

/* ---- UDP ---- */
static void on_udp_catchall(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                            u16_t port) {
  LWIP_UNUSED_ARG(arg);
  LWIP_UNUSED_ARG(pcb);
  /* udp_input only moved the payload pointer past the header: the header is still in front */
  const struct udp_hdr *h = (const struct udp_hdr *)((const u8_t *)p->payload - UDP_HLEN);
  fill_tuple(ip_current_dest_addr(), lwip_ntohs(h->dest), addr, port);
  counters[C_UDP_FOREIGN]++;
  if (p->next == NULL) {
    js_udp_recv(0, (const u8_t *)p->payload, p->len);
  } else {
    u16_t n = pbuf_copy_partial(p, udp_buf, p->tot_len, 0);
    js_udp_recv(0, udp_buf, n);
  }
  pbuf_free(p);
}

static void on_udp_sock(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                        u16_t port) {
  fill_tuple(ip_current_dest_addr(), pcb->local_port, addr, port);
  u32_t sid = (u32_t)(uintptr_t)arg;
  if (p->next == NULL) {
    js_udp_recv(sid, (const u8_t *)p->payload, p->len);
  } else {
    u16_t n = pbuf_copy_partial(p, udp_buf, p->tot_len, 0);
    js_udp_recv(sid, udp_buf, n);
  }
  pbuf_free(p);
}

/* ======================= exports ======================= */

static s32_t sleep_time(void) {
  u32_t t = sys_timeouts_sleeptime();
  return t == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? -1 : (s32_t)t;
}

EXPORT(io_ptr) u8_t *newt_io_ptr(void) { return io; }
EXPORT(io_size) u32_t newt_io_size(void) { return IO_SIZE; }
EXPORT(tuple_ptr) u8_t *newt_tuple_ptr(void) { return tuple; }

/** Initialises lwIP. io[0..32) holds 32 random bytes from JS (ISN key, RNG key). */
EXPORT(init) s32_t newt_init(u32_t mtu) {
  memcpy(&sip_k0, io, 8);
  memcpy(&sip_k1, io + 8, 8);
  memcpy(&rand_k0, io + 16, 8);
  memcpy(&rand_k1, io + 24, 8);
  lwip_init();
  for (u32_t i = MAX_FLOWS - 1; i >= 1; i--) flow_free_list[flow_free_top++] = (u16_t)i;
  if (netif_add_noaddr(&nif, NULL, netif_setup, ip_input) == NULL) return -1;
  nif.mtu = (u16_t)mtu;
  nif.mtu6 = (u16_t)mtu;
  netif_set_default(&nif);
  netif_set_up(&nif);
  netif_set_link_up(&nif);

  struct tcp_pcb *t = tcp_new_ip_type(IPADDR_TYPE_ANY);
  if (t == NULL) return -2;
  catchall_tcp = (struct tcp_pcb_listen *)tcp_listen(t);
  if (catchall_tcp == NULL) return -3;
  /* the catch-all is reached only through newt_tcp_foreign_input, never by port lookup */
  TCP_RMV(&tcp_listen_pcbs.pcbs, (struct tcp_pcb *)catchall_tcp);
  tcp_arg((struct tcp_pcb *)catchall_tcp, (void *)0);
  tcp_accept((struct tcp_pcb *)catchall_tcp, on_accept);
  listen_ext_id = tcp_ext_arg_alloc_id();
  tcp_ext_arg_set_callbacks((struct tcp_pcb *)catchall_tcp, listen_ext_id, &listen_ext_callbacks);

  catchall_udp = udp_new_ip_type(IPADDR_TYPE_ANY);
  udp_tx = udp_new_ip_type(IPADDR_TYPE_ANY);
  if (catchall_udp == NULL || udp_tx == NULL) return -4;
  udp_recv(catchall_udp, on_udp_catchall, NULL);
  return 0;
}

/** Adds an own address: io[0..16) address, family 4|6, prefix length. */
EXPORT(add_address) s32_t newt_add_address(u32_t family, u32_t prefix) {
  int slot = -1;
  for (int i = 0; i < MAX_OWN; i++) {
    if (own[i].family == 0) {
      slot = i;
      break;
    }
  }
  if (slot < 0) return -1;
  ip_addr_t a;
  get_addr(&a, family, io);
  if (family == 4) {
    if (prefix > 32) return -2;
    int first = 1;
    for (int i = 0; i < MAX_OWN; i++) {
      if (own[i].family == 4) first = 0;
    }
    if (first) {
      ip4_addr_t mask;
      mask.addr = prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - prefix));
      netif_set_addr(&nif, ip_2_ip4(&a), &mask, IP4_ADDR_ANY4);
    }
  } else {
    if (prefix > 128) return -2;
    s8_t idx = -1;
    if (netif_add_ip6_address(&nif, ip_2_ip6(&a), &idx) != ERR_OK || idx < 0) return -3;
    netif_ip6_addr_set_state(&nif, idx, IP6_ADDR_PREFERRED);
  }
  own[slot].family = (u8_t)family;
  own[slot].prefix = (u8_t)prefix;
  own[slot].addr = a;
  return 0;
}

/** Whether connections whose SYN offers TCP timestamps get them (config key 8). */
u8_t newt_tcp_timestamps;

/** Runtime options at or below the compile-time ceilings. */
EXPORT(config) s32_t newt_config(u32_t key, u32_t value) {
  switch (key) {
    case 0:
      if (value < 4 * TCP_MSS || value > TCP_WND) return -1;
      opt_window = value;
      newt_wnd_update_threshold = LWIP_MIN(value / 4, 64 * 1024);
      return 0;
    case 1: /* a flow's send quota, and (7) the ceiling it may grow to */
    case 7:
      if (value < TCP_MSS || value > TCP_SND_BUF) return -1;
      *(key == 1 ? &opt_send_quota : &opt_send_quota_max) = value;
      return 0;
    case 2:
      if (value > MEM_SIZE / 2) return -1;
      opt_heap_reserve = value;
      return 0;
    case 3:
      opt_keep_idle = value;
      return 0;
    case 4:
      opt_keep_intvl = value;
      return 0;
    case 5:
      opt_keep_cnt = value;
      return 0;
    case 6:
      /* 1: the ACK of in-order data waits for newt_ack_flush (JS calls it when an input batch
         ends); 0: sent at once, as lwIP does */
      newt_tcp_ack_coalesce = value != 0;
      if (!newt_tcp_ack_coalesce) newt_tcp_ack_flush();
      return 0;
    case 8:
      /* 1: TCP timestamps on the connections that offer them (tcp_timestamps.patch) */
      newt_tcp_timestamps = value != 0;
      return 0;
    default:
      return -1;
  }
}

static void inject(u32_t len) {
  PBUF_CHECK_FREE_OOSEQ();
  struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
  if (p == NULL) {
    counters[C_DROP_NOMEM]++;
    return;
  }
  pbuf_take(p, io, (u16_t)len);
  nif.input(p, &nif);
}

/** Whether the packet of `len` bytes in io may enter the stack; counts the drop if not. */
static int admit_input(u32_t len) {
  if (len == 0 || len > 65535) {
    counters[C_DROP_LENGTH]++;
    return 0;
  }
  u32_t v = io[0] >> 4;
  if (v == 4) {
    if (len < IP_HLEN) {
      counters[C_DROP_LENGTH]++;
      return 0;
    }
    if (class_of4(io + 16) == NEWT_DST_MULTICAST) {
      counters[C_DROP_MULTICAST]++;
      return 0;
    }
  } else if (v == 6) {
    if (len < IP6_HLEN) {
      counters[C_DROP_LENGTH]++;
      return 0;
    }
    if (class_of6(io + 24) == NEWT_DST_MULTICAST) {
      counters[C_DROP_MULTICAST]++;
      return 0;
    }
  } else {
    counters[C_DROP_VERSION]++;
    return 0;
  }
  return 1;
}

/**
 * Inbound IP packet of `len` bytes in io. (JS asks next_timeout separately: sys_now is costly.)
 * Returns 1 while ACKs wait for newt_ack_flush (ACK coalescing, config key 6), else 0.
 */
EXPORT(input) s32_t newt_input(u32_t len) {
  counters[C_IN_PACKETS]++;
  if (admit_input(len)) inject(len);
  return newt_tcp_ack_deferred;
}

/** Sends the ACKs held back during the input batch that just ended. */
EXPORT(ack_flush) void newt_ack_flush(void) { newt_tcp_ack_flush(); }

/* The pace timer (newt_tcp_paced_hook): one lwIP timeout for all flows the pacer held back; each
   tick walks the active flows (at most MEMP_NUM_TCP_PCB), and ticks stop once none is held. */
static u8_t pace_timer_armed;
/* Pace ticks so far: while they come, a flow on a long path is sending in bulk (the stack tells
   the UDP socket, which then sends such traffic in time rather than through a hand-over). */
static u32_t pace_ticks;

static void pace_tick(void *arg) {
  LWIP_UNUSED_ARG(arg);
  pace_timer_armed = 0;
  pace_ticks++;
  for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
    if (pcb->newt_paced) tcp_output(pcb); /* holds it again (and re-arms) if still too early */
  }
}

void newt_tcp_paced_hook(void) {
  if (pace_timer_armed) return;
  pace_timer_armed = 1;
  sys_timeout(NEWT_TCP_PACE_TICK_MS, pace_tick, NULL);
}

/** Runs due lwIP timers. Returns ms until the next one (-1: none). */
EXPORT(timers) s32_t newt_timers(void) {
  sys_check_timeouts();
  return sleep_time();
}

/** ms until the next lwIP timeout (-1: none). */
EXPORT(next_timeout) s32_t newt_next_timeout(void) { return sleep_time(); }

/** Pace timer ticks so far (see pace_ticks). */
EXPORT(pace_ticks) u32_t newt_pace_ticks(void) { return pace_ticks; }

/**
 * Feeds an approved held SYN (plain IP packet in io) to the catch-all listener.
 * Returns 0 when a SYN_RCVD pcb was created, -2 when the pcb pool was full (RST sent), -1 when
 * the packet did not reach TCP (malformed, or no pbuf).
 */
EXPORT(tcp_accept_held) s32_t newt_tcp_accept_held(u32_t len) {
  if (len < IP_HLEN || len > SYN_BUF_SIZE) return -1;
  syn_approved = 1;
  syn_outcome = 0;
  inject(len);
  syn_approved = 0;
  if (syn_outcome == 1) return 0;
  return syn_outcome == 2 ? -2 : -1;
}

/** Refuses a held SYN (plain IP packet in io) with a RST from its original destination. */
EXPORT(tcp_refuse_held) s32_t newt_tcp_refuse_held(u32_t len) {
  u32_t v = io[0] >> 4, iphl, family;
  if (v == 4) {
    iphl = (u32_t)(io[0] & 0x0f) * 4;
    family = 4;
  } else if (v == 6) {
    iphl = IP6_HLEN;
    family = 6;
  } else {
    return -1;
  }
  if (len < iphl + TCP_HLEN || iphl < IP_HLEN) return -1;
  ip_addr_t src, dst;
  get_addr(&src, family, io + (family == 6 ? 8 : 12));
  get_addr(&dst, family, io + (family == 6 ? 24 : 16));
  const u8_t *t = io + iphl;
  u16_t sport = (u16_t)((t[0] << 8) | t[1]);
  u16_t dport = (u16_t)((t[2] << 8) | t[3]);
  u32_t seq = ((u32_t)t[4] << 24) | ((u32_t)t[5] << 16) | ((u32_t)t[6] << 8) | t[7];
  u32_t thl = (u32_t)(t[12] >> 4) * 4;
  if (thl < TCP_HLEN || iphl + thl > len) return -1;
  u32_t seglen = len - iphl - thl + 1; /* payload + SYN */
  /* RFC 793: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
  tcp_rst(NULL, 0, seq + seglen, &dst, &src, dport, sport);
  return 0;
}

/** Aborts a half-open accepted flow (SYN_RCVD) whose tuple is in the tuple region. */
EXPORT(tcp_abort_pending) s32_t newt_tcp_abort_pending(void) {
  ip_addr_t local, remote;
  u16_t lport, rport;
  get_addr(&local, tuple[0], tuple + 8);
  get_addr(&remote, tuple[0], tuple + 24);
  memcpy(&lport, tuple + 2, 2);
  memcpy(&rport, tuple + 4, 2);
  for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
    if (pcb->state == SYN_RCVD && pcb->local_port == lport && pcb->remote_port == rport &&
        ip_addr_cmp(&pcb->local_ip, &local) && ip_addr_cmp(&pcb->remote_ip, &remote)) {
      tcp_abort(pcb);
      return 1;
    }
  }
  return 0;
}

/*
 * A write stopped by the shared heap or segment pool rather than by this flow's own data in
 * flight: no sent callback may follow for this flow, so JS retries on a short timer instead.
 */
#define NEWT_WRITE_RETRY (-100)
static int space_heap_limited;

/*
 * A flow's send quota: opt_send_quota, or on a long fast path twice the path model's window
 * (3x its bandwidth-delay product; Linux sizes a send buffer at twice the congestion window)
 * up to opt_send_quota_max. Data behind a hole stays queued until the hole is repaired, a round
 * trip or two later, so a fixed 1 MiB capped a 20 ms path at ~350 Mbit/s whatever the
 * receiver could take. A lossy path keeps the grown quota too: held at its base there, the
 * quota rather than the window set the flight (1 MiB per round trip and a bit), and how much
 * to send into a receiver that drops is the window's and the pacer's call.
 */
static u32_t flow_send_quota(struct tcp_pcb *pcb) {
  if (opt_send_quota_max <= opt_send_quota) return opt_send_quota;
  u64_t want = 2 * (u64_t)newt_tcp_model_window(pcb, 0);
  if (want <= opt_send_quota) return opt_send_quota;
  return want < opt_send_quota_max ? (u32_t)want : opt_send_quota_max;
}

/* Bytes a flow's own send buffer and its send quota (flow_send_quota) leave room for (the shared
   heap aside). */
static u32_t flow_room(struct tcp_pcb *pcb, u32_t quota) {
  u32_t sndbuf = pcb->snd_buf; /* tcp_sndbuf() clamps to 16 bits */
  u32_t inflight = TCP_SND_BUF - sndbuf;
  if (inflight >= quota) return 0;
  u32_t room = quota - inflight;
  return room < sndbuf ? room : sndbuf;
}

/* Bytes a flow may queue now: its own send buffer, its send quota, and the shared heap. */
static u32_t send_space(struct tcp_pcb *pcb) {
  space_heap_limited = 0;
  u32_t space = flow_room(pcb, flow_send_quota(pcb));
  if (space == 0) return 0;
#if MEM_STATS
  u32_t inflight = TCP_SND_BUF - pcb->snd_buf;
  u32_t used = lwip_stats.mem.used;
  u32_t avail = lwip_stats.mem.avail;
  u32_t free_heap = avail > used ? avail - used : 0;
  /* A flow with nothing in flight may dip into the reserve so every flow makes progress. */
  u32_t reserve = inflight == 0 ? opt_heap_reserve / 2 : opt_heap_reserve;
  u32_t heap_room = free_heap > reserve ? (free_heap - reserve) / 2 : 0;
  if (space > heap_room) {
    space = heap_room;
    if (space == 0) space_heap_limited = 1;
  }
#endif
  if (pcb->snd_queuelen >= TCP_SND_QUEUELEN - 2) return 0;
  return space;
}

/**
 * Queues io[0..len) on a flow. Returns bytes taken, 0 (wait for the sent callback),
 * NEWT_WRITE_RETRY (shared memory ran short: retry on a timer) or another negative error.
 */
EXPORT(tcp_write) s32_t newt_tcp_write(u32_t fid, u32_t len) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  if (len > 0xFFFF) len = 0xFFFF;
  u32_t n = send_space(pcb);
  if (n > len) n = len;
  if (n == 0) return space_heap_limited ? NEWT_WRITE_RETRY : 0;
  err_t e = tcp_write(pcb, io, (u16_t)n, TCP_WRITE_FLAG_COPY);
  if (e == ERR_MEM) {
    counters[C_WRITE_NOMEM]++;
    tcp_output(pcb);
    return NEWT_WRITE_RETRY;
  }
  if (e != ERR_OK) return e;
  tcp_output(pcb);
  return (s32_t)n;
}

/** Bytes a flow could queue now (NEWT_WRITE_RETRY: none, because shared memory ran short). */
EXPORT(tcp_space) s32_t newt_tcp_space(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  u32_t n = send_space(pcb);
  if (n == 0 && space_heap_limited) return NEWT_WRITE_RETRY;
  return (s32_t)n;
}

/** Bytes written on a flow that the peer has not acknowledged yet (ERR_CONN once it is gone). */
EXPORT(tcp_unacked) s32_t newt_tcp_unacked(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  return (s32_t)(TCP_SND_BUF - pcb->snd_buf);
}

/** The reader consumed n bytes: open the window by that much. */
EXPORT(tcp_recved) s32_t newt_tcp_recved(u32_t fid, u32_t n) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  while (n > 0) {
    u16_t step = (u16_t)(n > 0xFFFF ? 0xFFFF : n);
    tcp_recved(pcb, step);
    n -= step;
  }
  return 0;
}

/** Half-close: send FIN, keep receiving. */
EXPORT(tcp_shutdown) s32_t newt_tcp_shutdown(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  err_t e = tcp_shutdown(pcb, 0, 1);
  return e;
}

static void detach(struct tcp_pcb *pcb, u32_t fid) {
  tcp_arg(pcb, NULL);
  if (pcb->state != LISTEN) {
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
  }
  flow_release(fid);
}

/** Full close with FIN (JS sends RST instead when it holds unread data). Frees the id. */
EXPORT(tcp_close) s32_t newt_tcp_close(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  detach(pcb, fid);
  /* lwIP sends RST on close when rcv_wnd is below its ceiling (it assumes unread data); our
     runtime window sits below the ceiling, and JS has already returned everything it read */
  if (pcb->state != LISTEN) pcb->rcv_wnd = TCP_WND_MAX(pcb);
  if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  return 0;
}

/** Abort with RST. Frees the id. */
EXPORT(tcp_abort) s32_t newt_tcp_abort(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  if (pcb->state == LISTEN) return newt_tcp_close(fid);
  detach(pcb, fid);
  if (pcb->unsent != NULL) {
    /* Data still queued was written before this reset (a target's last bytes, then its RST):
       what the windows allow leaves first, unpaced (no rate: no pacing). */
    pcb->newt_bw[0] = pcb->newt_bw[1] = 0;
    tcp_output(pcb);
  }
  tcp_abort(pcb);
  return 0;
}

/** Writes a flow's tuple to the tuple region. */
EXPORT(tcp_info) s32_t newt_tcp_info(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  fill_tuple(&pcb->local_ip, pcb->local_port, &pcb->remote_ip, pcb->remote_port);
  return (s32_t)pcb->state;
}

/** Opens a connection from the stack's own address to io[0..16) (family 4|6), port. */
EXPORT(tcp_connect) s32_t newt_tcp_connect(u32_t family, u32_t port) {
  ip_addr_t dst;
  get_addr(&dst, family, io);
  struct tcp_pcb *pcb = tcp_new_ip_type(family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (pcb == NULL) return ERR_MEM;
  u32_t fid = flow_alloc(pcb);
  if (fid == 0) {
    tcp_abort(pcb);
    return ERR_MEM;
  }
  setup_flow(pcb, fid);
  err_t e = tcp_connect(pcb, &dst, (u16_t)port, on_connected);
  if (e != ERR_OK) {
    detach(pcb, fid);
    tcp_abort(pcb);
    return e;
  }
  return (s32_t)fid;
}

/** Listens on the stack's own addresses: family 0 (both), 4 or 6; port. Returns a listener id. */
EXPORT(tcp_listen) s32_t newt_tcp_listen(u32_t family, u32_t port) {
  u8_t type = family == 6 ? IPADDR_TYPE_V6 : family == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY;
  struct tcp_pcb *pcb = tcp_new_ip_type(type);
  if (pcb == NULL) return ERR_MEM;
  const ip_addr_t *any = type == IPADDR_TYPE_V6 ? IP6_ADDR_ANY : type == IPADDR_TYPE_V4 ? IP4_ADDR_ANY : IP_ANY_TYPE;
  err_t e = tcp_bind(pcb, any, (u16_t)port);
  if (e != ERR_OK) {
    tcp_abort(pcb);
    return e;
  }
  struct tcp_pcb *l = tcp_listen(pcb);
  if (l == NULL) {
    tcp_abort(pcb);
    return ERR_MEM;
  }
  u32_t fid = flow_alloc(l);
  if (fid == 0) {
    tcp_close(l);
    return ERR_MEM;
  }
  tcp_arg(l, (void *)(uintptr_t)fid);
  tcp_accept(l, on_accept);
  tcp_ext_arg_set_callbacks(l, listen_ext_id, &listen_ext_callbacks);
  return (s32_t)fid;
}

/** Local port of a listener or flow. */
EXPORT(tcp_local_port) s32_t newt_tcp_local_port(u32_t fid) {
  struct tcp_pcb *pcb = flow_get(fid);
  if (pcb == NULL) return ERR_CONN;
  return pcb->local_port;
}

/* ---- UDP exports ---- */

/** Sends io[0..len) from tuple "local" (any address:port) to tuple "remote". */
EXPORT(udp_send_from) s32_t newt_udp_send_from(u32_t len) {
  if (len > 65535 - UDP_HLEN) return ERR_VAL;
  ip_addr_t from, to;
  u16_t fport, tport;
  get_addr(&from, tuple[0], tuple + 8);
  get_addr(&to, tuple[0], tuple + 24);
  memcpy(&fport, tuple + 2, 2);
  memcpy(&tport, tuple + 4, 2);
  if (fport == 0) return ERR_VAL;
  struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
  if (p == NULL) return ERR_MEM;
  pbuf_take(p, io, (u16_t)len);
  udp_tx->local_port = fport;
  err_t e = udp_sendto_if_src(udp_tx, p, &to, tport, &nif, &from);
  pbuf_free(p);
  return e;
}

/** Opens a UDP socket on the stack's own addresses (family 0|4|6, port 0 = ephemeral). */
EXPORT(udp_open) s32_t newt_udp_open(u32_t family, u32_t port) {
  u8_t type = family == 6 ? IPADDR_TYPE_V6 : family == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY;
  u32_t sid = 0;
  for (u32_t i = 1; i < MAX_SOCKS; i++) {
    if (socks[i] == NULL) {
      sid = i;
      break;
    }
  }
  if (sid == 0) return ERR_MEM;
  struct udp_pcb *pcb = udp_new_ip_type(type);
  if (pcb == NULL) return ERR_MEM;
  const ip_addr_t *any = type == IPADDR_TYPE_V6 ? IP6_ADDR_ANY : type == IPADDR_TYPE_V4 ? IP4_ADDR_ANY : IP_ANY_TYPE;
  err_t e = udp_bind(pcb, any, (u16_t)port);
  if (e != ERR_OK) {
    udp_remove(pcb);
    return e;
  }
  udp_recv(pcb, on_udp_sock, (void *)(uintptr_t)sid);
  socks[sid] = pcb;
  return (s32_t)sid;
}

/** Local port of a UDP socket. */
EXPORT(udp_local_port) s32_t newt_udp_local_port(u32_t sid) {
  if (sid == 0 || sid >= MAX_SOCKS || socks[sid] == NULL) return ERR_CONN;
  return socks[sid]->local_port;
}

/** Sends io[0..len) from socket sid to the tuple's "remote" address:port. */
EXPORT(udp_sendto) s32_t newt_udp_sendto(u32_t sid, u32_t len) {
  if (sid == 0 || sid >= MAX_SOCKS || socks[sid] == NULL) return ERR_CONN;
  if (len > 65535 - UDP_HLEN) return ERR_VAL;
  ip_addr_t to;
  u16_t tport;
  get_addr(&to, tuple[0], tuple + 24);
  memcpy(&tport, tuple + 4, 2);
  struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
  if (p == NULL) return ERR_MEM;
  pbuf_take(p, io, (u16_t)len);
  err_t e = udp_sendto(socks[sid], p, &to, tport);
  pbuf_free(p);
  return e;
}

EXPORT(udp_close) s32_t newt_udp_close(u32_t sid) {
  if (sid == 0 || sid >= MAX_SOCKS || socks[sid] == NULL) return ERR_CONN;
  udp_remove(socks[sid]);
  socks[sid] = NULL;
  return 0;
}

/* ---- ICMP errors ---- */

/**
 * Sends an ICMP/ICMPv6 destination-unreachable (code) quoting the original packet in io[0..qlen).
 * from_original: 1 = from the quoted packet's destination, 0 = from the stack's own address.
 */
EXPORT(icmp_unreach) s32_t newt_icmp_unreach(u32_t qlen, u32_t code, u32_t from_original) {
  u32_t v = qlen > 0 ? io[0] >> 4 : 0;
  ip_addr_t src, dst;
  if (v == 4) {
    if (qlen < IP_HLEN) return ERR_VAL;
    if (qlen > 576 - IP_HLEN - 8) qlen = 576 - IP_HLEN - 8;
    get_addr(&dst, 4, io + 12);
    if (from_original) {
      get_addr(&src, 4, io + 16);
    } else {
      ip_addr_copy_from_ip4(src, *netif_ip4_addr(&nif));
    }
    struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(8 + qlen), PBUF_RAM);
    if (p == NULL) return ERR_MEM;
    u8_t *b = (u8_t *)p->payload;
    memset(b, 0, 8);
    b[0] = ICMP_DUR;
    b[1] = (u8_t)code;
    memcpy(b + 8, io, qlen);
    u16_t ck = inet_chksum(b, (u16_t)(8 + qlen));
    memcpy(b + 2, &ck, 2);
    err_t e = ip4_output_if(p, ip_2_ip4(&src), ip_2_ip4(&dst), ICMP_TTL, 0, IP_PROTO_ICMP, &nif);
    pbuf_free(p);
    return e;
  }
  if (v == 6) {
    if (qlen < IP6_HLEN) return ERR_VAL;
    if (qlen > 1280 - IP6_HLEN - 8) qlen = 1280 - IP6_HLEN - 8;
    get_addr(&dst, 6, io + 8);
    if (from_original) {
      get_addr(&src, 6, io + 24);
    } else {
      const ip6_addr_t *s = NULL;
      for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        if (ip6_addr_isvalid(netif_ip6_addr_state(&nif, i))) {
          s = netif_ip6_addr(&nif, i);
          break;
        }
      }
      if (s == NULL) return ERR_RTE;
      ip_addr_copy_from_ip6(src, *s);
    }
    struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(8 + qlen), PBUF_RAM);
    if (p == NULL) return ERR_MEM;
    u8_t *b = (u8_t *)p->payload;
    memset(b, 0, 8);
    b[0] = ICMP6_TYPE_DUR;
    b[1] = (u8_t)code;
    memcpy(b + 8, io, qlen);
    u16_t ck = ip6_chksum_pseudo(p, IP6_NEXTH_ICMP6, p->tot_len, ip_2_ip6(&src), ip_2_ip6(&dst));
    memcpy(b + 2, &ck, 2);
    err_t e = ip6_output_if(p, ip_2_ip6(&src), ip_2_ip6(&dst), 255, 0, IP6_NEXTH_ICMP6, &nif);
    pbuf_free(p);
    return e;
  }
  return ERR_VAL;
}

/* ---- statistics ---- */
extern u32_t newt_heap_search_steps; /* heap_next_fit.patch */
#define STAT_WORDS 72
static u32_t stat_out[STAT_WORDS];

/** Fills and returns the statistics block (layout documented in stack.ts STAT_NAMES). */
EXPORT(stats) u32_t *newt_stats(void) {
  u32_t i = 0;
  memset(stat_out, 0, sizeof stat_out);
  for (u32_t c = 0; c < C_COUNT; c++) stat_out[i++] = counters[c];
  /* lwIP protocol counters */
  stat_out[i++] = lwip_stats.ip.drop;
  stat_out[i++] = lwip_stats.ip.chkerr;
  stat_out[i++] = lwip_stats.ip.lenerr;
  stat_out[i++] = lwip_stats.ip.proterr;
  stat_out[i++] = lwip_stats.ip_frag.drop;
  stat_out[i++] = lwip_stats.ip6.drop;
  stat_out[i++] = lwip_stats.ip6.lenerr;
  stat_out[i++] = lwip_stats.ip6.proterr;
  stat_out[i++] = lwip_stats.ip6_frag.drop;
  stat_out[i++] = lwip_stats.icmp.drop;
  stat_out[i++] = lwip_stats.icmp6.drop;
  stat_out[i++] = lwip_stats.tcp.drop;
  stat_out[i++] = lwip_stats.tcp.chkerr;
  stat_out[i++] = lwip_stats.tcp.lenerr;
  stat_out[i++] = lwip_stats.tcp.memerr;
  stat_out[i++] = lwip_stats.tcp.rterr;
  stat_out[i++] = lwip_stats.udp.drop;
  stat_out[i++] = lwip_stats.udp.chkerr;
  stat_out[i++] = lwip_stats.udp.lenerr;
  stat_out[i++] = lwip_stats.udp.proterr;
  /* pools */
  stat_out[i++] = (u32_t)lwip_stats.mem.used;
  stat_out[i++] = (u32_t)lwip_stats.mem.avail;
  stat_out[i++] = (u32_t)lwip_stats.mem.max;
  stat_out[i++] = lwip_stats.memp[MEMP_TCP_PCB]->used;
  stat_out[i++] = lwip_stats.memp[MEMP_TCP_PCB]->avail;
  stat_out[i++] = lwip_stats.memp[MEMP_TCP_SEG]->used;
  stat_out[i++] = lwip_stats.memp[MEMP_TCP_SEG]->avail;
  stat_out[i++] = lwip_stats.memp[MEMP_PBUF_POOL]->used;
  stat_out[i++] = lwip_stats.memp[MEMP_PBUF_POOL]->avail;
  stat_out[i++] = lwip_stats.memp[MEMP_PBUF_POOL]->err;
  stat_out[i++] = lwip_stats.memp[MEMP_UDP_PCB]->used;
  stat_out[i++] = MAX_FLOWS - 1 - flow_free_top;
  stat_out[i++] = (u32_t)sizeof(struct tcp_pcb);
  stat_out[i++] = newt_heap_search_steps;
  /* TCP loss recovery (tcp_recovery.patch): RTOs, SACKed segments resent by an RTO, fast
     recoveries, SACK hole retransmissions, NewReno partial-ACK retransmissions */
  for (u32_t c = 0; c < NEWT_TCPC_COUNT; c++) stat_out[i++] = newt_tcp_counters[c];
  return stat_out;
}
