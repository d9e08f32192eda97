/*
 * A seeded impairing UDP relay for the WireGuard path (tc netem is not available here):
 * datagrams from the client side go to the server and the server's replies go back to the last
 * client address, each direction delayed by a fixed time and dropped with a fixed probability.
 *   udp_relay <listen-addr> <listen-port> <server-addr> <server-port> <up-delay-us>
 *             <down-delay-us> <loss-ppm> <seed> <max-seconds>
 * "up" is client -> server. Queues are bounded (a full queue drops and counts). Prints "ready",
 * then one JSON line of counters when stdin closes or max-seconds pass.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 8192 /* per direction: ~1 Gbit/s of 1.4 KB datagrams for 90 ms */
#define SLOT_BYTES 2048

struct queue {
  uint64_t release_ns[SLOTS];
  uint16_t len[SLOTS];
  unsigned char data[SLOTS][SLOT_BYTES];
  unsigned head, count;
  uint64_t delay_ns;
  unsigned long in, out, lost, full, truncated;
};

static struct queue up, down;
static uint64_t rng;

/* xorshift64*: fixed seed, so every run drops the same datagram positions. */
static uint64_t next_random(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static int udp_socket(const char *addr, int port, struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    perror("socket");
    exit(1);
  }
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(port);
  if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", addr);
    exit(2);
  }
  return fd;
}

/* Reads up to 64 datagrams from fd into q (after the loss draw); returns how many were read. */
static int take(int fd, struct queue *q, unsigned loss_ppm, struct sockaddr_in *from) {
  int n = 0;
  for (; n < 64; n++) {
    unsigned char tmp[SLOT_BYTES];
    socklen_t fl = sizeof *from;
    ssize_t r = recvfrom(fd, tmp, sizeof tmp, MSG_TRUNC, (struct sockaddr *)from, &fl);
    if (r < 0) break;
    q->in++;
    if (r > SLOT_BYTES) {
      q->truncated++;
      continue;
    }
    if (next_random() % 1000000 < loss_ppm) {
      q->lost++;
      continue;
    }
    if (q->count == SLOTS) {
      q->full++;
      continue;
    }
    unsigned i = (q->head + q->count) % SLOTS;
    memcpy(q->data[i], tmp, r);
    q->len[i] = r;
    q->release_ns[i] = now_ns() + q->delay_ns;
    q->count++;
  }
  return n;
}

/* Sends every datagram of q whose time has come; returns ns until the next one (or -1). */
static int64_t release(int fd, struct queue *q, const struct sockaddr_in *to, int have_to) {
  uint64_t t = now_ns();
  while (q->count > 0) {
    unsigned i = q->head;
    if (q->release_ns[i] > t) return (int64_t)(q->release_ns[i] - t);
    if (have_to) {
      if (sendto(fd, q->data[i], q->len[i], 0, (const struct sockaddr *)to, sizeof *to) < 0 &&
          errno == EAGAIN) {
        return 20000; /* socket buffer full: retry shortly, keep order */
      }
      q->out++;
    }
    q->head = (q->head + 1) % SLOTS;
    q->count--;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: udp_relay <laddr> <lport> <saddr> <sport> <up-us> <down-us> <loss-ppm>"
                    " <seed> <max-seconds>\n");
    return 2;
  }
  struct sockaddr_in listen_sa, server_sa, any_sa, client_sa, from;
  int client_fd = udp_socket(argv[1], atoi(argv[2]), &listen_sa);
  if (bind(client_fd, (struct sockaddr *)&listen_sa, sizeof listen_sa) < 0) {
    perror("bind");
    return 1;
  }
  int server_fd = udp_socket("0.0.0.0", 0, &any_sa);
  udp_socket(argv[3], atoi(argv[4]), &server_sa);
  up.delay_ns = strtoull(argv[5], NULL, 10) * 1000ULL;
  down.delay_ns = strtoull(argv[6], NULL, 10) * 1000ULL;
  unsigned loss_ppm = (unsigned)strtoul(argv[7], NULL, 10);
  rng = strtoull(argv[8], NULL, 10) | 1;
  uint64_t deadline = now_ns() + (uint64_t)(atof(argv[9]) * 1e9);
  int have_client = 0;
  printf("ready\n");
  fflush(stdout);

  while (now_ns() < deadline) {
    int64_t a = release(server_fd, &up, &server_sa, 1);
    int64_t b = release(client_fd, &down, &client_sa, have_client);
    int64_t wait = a < 0 ? b : (b < 0 ? a : (a < b ? a : b));
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000000};
    if (wait >= 0 && wait < 200000000) ts.tv_nsec = wait;
    struct pollfd p[3] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}, {0, POLLIN, 0}};
    if (ppoll(p, 3, &ts, NULL) < 0 && errno != EINTR) break;
    if (p[0].revents & POLLIN) {
      if (take(client_fd, &up, loss_ppm, &from) > 0) {
        client_sa = from;
        have_client = 1;
      }
    }
    if (p[1].revents & POLLIN) take(server_fd, &down, loss_ppm, &from);
    if (p[2].revents & (POLLIN | POLLHUP)) {
      char c[64];
      if (read(0, c, sizeof c) <= 0) break;
    }
  }
  printf("{\"up\":{\"in\":%lu,\"out\":%lu,\"lost\":%lu,\"full\":%lu},"
         "\"down\":{\"in\":%lu,\"out\":%lu,\"lost\":%lu,\"full\":%lu}}\n",
         up.in, up.out, up.lost, up.full, down.in, down.out, down.lost, down.full);
  return 0;
}
