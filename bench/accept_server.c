/* accept_server: the far end of connect_bench — accepts every TCP connection and closes it at once.
 *
 *   accept_server [--bind ADDR] PORT
 *
 * Without --bind it listens dual-stack on [::]. Prints "listening" once bound. SIGTERM/SIGINT: exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop = 0;
static void OnStop(int sig) { (void)sig; g_stop = 1; }

static int Listen(const char* addr, int port) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in* sin = (struct sockaddr_in*)&ss;
  struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&ss;
  socklen_t len;
  int family;
  if (addr != NULL && inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
    family = AF_INET;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    len = sizeof(*sin);
  } else if (addr == NULL || inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
    family = AF_INET6;
    if (addr == NULL) sin6->sin6_addr = in6addr_any;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    len = sizeof(*sin6);
  } else {
    fprintf(stderr, "accept_server: '%s' is not an IP address\n", addr);
    return -1;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1, v6only = addr != NULL;
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  if (bind(fd, (struct sockaddr*)&ss, len) != 0 || listen(fd, 4096) != 0) {
    fprintf(stderr, "accept_server: bind/listen port %d: %s\n", port, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char** argv) {
  const char* addr = NULL;
  int argi = 1;
  if (argc == 4 && strcmp(argv[1], "--bind") == 0) {
    addr = argv[2];
    argi = 3;
  }
  char* end = NULL;
  long port = argi < argc ? strtol(argv[argi], &end, 10) : 0;
  if (argi != argc - 1 || end == argv[argi] || *end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, "usage: accept_server [--bind ADDR] PORT\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStop; /* no SA_RESTART: accept() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int fd = Listen(addr, (int)port);
  if (fd < 0) return 1;
  printf("listening\n");
  fflush(stdout);
  unsigned long accepted = 0;
  while (!g_stop) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) {
      close(c);
      accepted++;
    } else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE && errno != ENFILE) {
      perror("accept_server: accept");
      return 1;
    }
  }
  fprintf(stderr, "accept_server: %lu connections accepted\n", accepted);
  return 0;
}
