/*
 * Benchmark targets in C, so the target side costs the same little CPU in every scenario:
 * a TCP echo (echoes until the peer closes) and a UDP echo on one address.
 *   echo_server <addr> <tcp-port> <udp-port> <max-seconds>
 * Prints "ready" once listening; exits after max-seconds or when stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int bound(int type, const char *addr, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) die("address");
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  return fd;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: echo_server <addr> <tcp-port> <udp-port> <max-seconds>\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  double deadline = now_s() + atof(argv[4]);
  int tcp = bound(SOCK_STREAM, argv[1], atoi(argv[2]));
  if (listen(tcp, 4096) < 0) die("listen");
  int udp = bound(SOCK_DGRAM, argv[1], atoi(argv[3]));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = tcp;
  epoll_ctl(ep, EPOLL_CTL_ADD, tcp, &ev);
  ev.data.fd = udp;
  epoll_ctl(ep, EPOLL_CTL_ADD, udp, &ev);
  ev.data.fd = 0;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  printf("ready\n");
  fflush(stdout);
  static char buf[65536];
  struct epoll_event evs[256];
  while (now_s() < deadline) {
    int n = epoll_wait(ep, evs, 256, 200);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == 0) {
        if (read(0, buf, sizeof buf) <= 0) return 0;
      } else if (fd == tcp) {
        for (int k = 0; k < 256; k++) {
          int c = accept4(tcp, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN};
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
      } else if (fd == udp) {
        for (int k = 0; k < 256; k++) {
          struct sockaddr_in from;
          socklen_t fl = sizeof from;
          ssize_t r = recvfrom(udp, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
          if (r < 0) break;
          sendto(udp, buf, r, 0, (struct sockaddr *)&from, fl);
        }
      } else {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
          /* Echo payloads here are tiny; a short write on a full buffer drops the rest. */
          if (write(fd, buf, r) < 0 && errno != EAGAIN) close(fd);
        } else if (r == 0 || errno != EAGAIN) {
          close(fd);
        }
      }
    }
  }
  return 0;
}
