/*
 * Connection-rate and idle-flow probe with the kernel's own TCP client (an honest client side,
 * the same in every scenario).
 *   conn_probe rate <addr> <port> <seconds> <max-conns> [latency-file]
 *     sequential connect / write 1 byte / read the echo / close; prints one JSON line with the
 *     count, connections per second and p50/p99 latency (connect start to echo received); with a
 *     latency file, also writes each connection's start (CLOCK_MONOTONIC seconds, as `perf record
 *     -k CLOCK_MONOTONIC` stamps its samples) and latency (µs), one line each.
 *   conn_probe echo <addr> <port> <seconds> <max>
 *     one connection, then write 1 byte / read the echo, one at a time; prints one JSON line with
 *     the count, round trips per second and p50/p99 of each round trip (µs): the data path's
 *     latency without a connection's set-up and teardown.
 *   conn_probe hold <addr> <port> <n>
 *     opens n connections (each checked with a 1-byte echo), prints {"open":k}, waits for a line
 *     on stdin (at most 600 s), closes them all and prints {"closed":k}.
 * Every socket wait is bounded by a 2 s timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* Opens one connection and checks it with a 1-byte echo; returns the fd or -1. */
static int echo_once(const struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char b = 'x';
  if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 || write(fd, &b, 1) != 1 ||
      read(fd, &b, 1) != 1) {
    close(fd);
    return -1;
  }
  return fd;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/*
 * Sorts `lat` (seconds) and prints one JSON line: count, errors, seconds, `rate_key` (per second)
 * and p50/p99 (µs, 0 when there is none).
 */
static void print_latencies(const char *rate_key, double *lat, long ok, long errors, double took) {
  qsort(lat, ok, sizeof(double), cmp_double);
  double p50 = ok ? lat[(long)(ok * 0.50)] : 0, p99 = ok ? lat[(long)(ok * 0.99)] : 0;
  printf("{\"count\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"%s\":%.1f,\"p50_us\":%.1f,"
         "\"p99_us\":%.1f}\n",
         ok, errors, took, rate_key, ok / took, p50 * 1e6, p99 * 1e6);
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr,
            "usage: conn_probe rate <addr> <port> <seconds> <max> [latency-file] | echo <addr> <port> "
            "<seconds> <max> | hold <addr> <port> <n>\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
  if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) return 2;

  if (strcmp(argv[1], "rate") == 0 && (argc == 6 || argc == 7)) {
    double seconds = atof(argv[4]);
    long max = atol(argv[5]);
    double *lat = malloc(sizeof(double) * (max > 0 ? max : 1));
    double *at = malloc(sizeof(double) * (max > 0 ? max : 1));
    long ok = 0, errors = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (ok + errors < max && now_s() < end) {
      double s = now_s();
      int fd = echo_once(&sa);
      if (fd < 0) {
        errors++;
        continue;
      }
      at[ok] = s;
      lat[ok++] = now_s() - s;
      close(fd);
    }
    double took = now_s() - t0;
    if (argc == 7) {
      FILE *f = fopen(argv[6], "w");
      if (f) {
        for (long i = 0; i < ok; i++) fprintf(f, "%.6f %.1f\n", at[i], lat[i] * 1e6);
        fclose(f);
      }
    }
    print_latencies("cps", lat, ok, errors, took);
    return 0;
  }
  if (strcmp(argv[1], "echo") == 0 && argc == 6) {
    double seconds = atof(argv[4]);
    long max = atol(argv[5]);
    double *lat = malloc(sizeof(double) * (max > 0 ? max : 1));
    long ok = 0, errors = 0;
    int fd = echo_once(&sa);
    if (fd < 0) errors++;
    double t0 = now_s(), end = t0 + seconds;
    while (fd >= 0 && ok < max && now_s() < end) {
      char b = 'x';
      double s = now_s();
      if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1) {
        errors++;
        break;
      }
      lat[ok++] = now_s() - s;
    }
    double took = now_s() - t0;
    if (fd >= 0) close(fd);
    print_latencies("rps", lat, ok, errors, took);
    return 0;
  }
  if (strcmp(argv[1], "hold") == 0 && argc == 5) {
    long n = atol(argv[4]);
    int *fds = malloc(sizeof(int) * (n > 0 ? n : 1));
    long open = 0, errors = 0;
    double end = now_s() + 120;
    while (open < n && errors < n && now_s() < end) {
      int fd = echo_once(&sa);
      if (fd < 0) errors++;
      else fds[open++] = fd;
    }
    printf("{\"open\":%ld,\"errors\":%ld}\n", open, errors);
    fflush(stdout);
    struct pollfd p = {.fd = 0, .events = POLLIN};
    poll(&p, 1, 600 * 1000);
    for (long i = 0; i < open; i++) close(fds[i]);
    printf("{\"closed\":%ld}\n", open);
    return 0;
  }
  fprintf(stderr, "unknown mode\n");
  return 2;
}
