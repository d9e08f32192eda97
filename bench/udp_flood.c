/* Sends N datagrams of SIZE bytes to 127.0.0.1:PORT as fast as the kernel takes them: a sender
 * that is not the bottleneck when measuring how fast the device receives. Loopback only.
 * Build: cc -O2 -o udp_flood udp_flood.c    Run: ./udp_flood PORT N SIZE */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int port = atoi(argv[1]);
  long n = atol(argv[2]);
  int size = atoi(argv[3]);
  if (size < 16 || size > 65000 || n < 1 || n > 100000000) return 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) return 1;
  unsigned char *msg = calloc(1, (size_t)size);
  msg[0] = 4; /* a transport message to an unknown receiver index */
  msg[4] = 0xfe;
  for (long i = 0; i < n; i++) {
    if (send(fd, msg, (size_t)size, 0) < 0) usleep(50);
  }
  close(fd);
  return 0;
}
