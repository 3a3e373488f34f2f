/* picket_test_server: the echo server the end-to-end tests connect to.
 *
 *   picket_test_server [--tcp PORT]... [--tcp-abort PORT]... [--udp PORT]... [--bind ADDR]
 *                      [--stats FILE]
 *
 * Echoes every TCP byte back on its connection and every UDP datagram back to its sender.
 * Without --bind it listens dual-stack on [::] (IPv4 arrives v4-mapped); with --bind it listens on
 * that one address (IPv4 or IPv6 only). Up to 8 TCP and 8 UDP ports. On a --tcp-abort port each
 * connection is reset (SO_LINGER 0, an RST with no FIN) right after its first line is echoed.
 *
 * It counts what it received, so a test can check server-side that a blocked client sent nothing.
 * The first whitespace-separated word of a TCP connection's first line, or of a datagram, is the
 * sender's tag (picket_test_client sends its own exe path). Counts are written atomically
 * (temp file + rename) to the --stats file at start-up and after every change, and printed to
 * stdout on SIGUSR1. Counts are saved before the echo is sent, so a client that got its answer can
 * read them at once. Format, one "key value" per line:
 *   tcp_accepted N | tcp_lines N | udp_datagrams N
 *   tcp_accepted:PORT N | udp_datagrams:PORT N
 *   tcp_from:TAG N (connections whose first line carried TAG) | udp_from:TAG N
 * UDP sockets get a 16 MiB receive buffer (when allowed), so a burst is not dropped while the
 * server waits for the CPU. At start-up it prints "listening" on stdout once every socket is bound.
 * SIGTERM / SIGINT: exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define kMaxPorts 8
#define kMaxConns 128
#define kMaxTags 64
#define kTagLen 256

struct Tag {
  char name[kTagLen];
  unsigned long tcp;
  unsigned long udp;
};

struct Listener {
  int fd;
  int port;
  int abort_after_echo; /* TCP: reset each connection after echoing its first line */
  unsigned long count; /* accepted connections (TCP) or datagrams (UDP) */
};

struct Conn {
  int fd;
  int abort_after_echo;
  int tagged;           /* first line seen (or given up on) */
  size_t line_len;      /* bytes of the first line buffered so far */
  char line[kTagLen];
};

struct Server {
  struct Listener tcp[kMaxPorts];
  int n_tcp;
  struct Listener udp[kMaxPorts];
  int n_udp;
  struct Conn conns[kMaxConns];
  int n_conns;
  struct Tag tags[kMaxTags];
  int n_tags;
  unsigned long tcp_accepted, tcp_lines, udp_datagrams, tags_dropped;
  const char* stats_path;
  const char* bind_addr;
};

static volatile sig_atomic_t g_stop = 0;
static volatile sig_atomic_t g_dump = 0;

static void OnStop(int sig) { (void)sig; g_stop = 1; }
static void OnDump(int sig) { (void)sig; g_dump = 1; }

static void Usage(void) {
  fprintf(stderr,
          "usage: picket_test_server [--tcp PORT]... [--tcp-abort PORT]... [--udp PORT]... "
          "[--bind ADDR] [--stats FILE]\n");
}

static int ParsePort(const char* text, int* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 65535) return -1;
  *out = (int)v;
  return 0;
}

static int ParseArgs(int argc, char** argv, struct Server* s) {
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return -1;
    const char* flag = argv[i];
    const char* value = argv[i + 1];
    if (strcmp(flag, "--tcp") == 0 || strcmp(flag, "--tcp-abort") == 0 || strcmp(flag, "--udp") == 0) {
      int is_tcp = flag[2] == 't';
      struct Listener* list = is_tcp ? s->tcp : s->udp;
      int* n = is_tcp ? &s->n_tcp : &s->n_udp;
      if (*n >= kMaxPorts || ParsePort(value, &list[*n].port) != 0) return -1;
      list[*n].abort_after_echo = strcmp(flag, "--tcp-abort") == 0;
      (*n)++;
    } else if (strcmp(flag, "--bind") == 0) {
      s->bind_addr = value;
    } else if (strcmp(flag, "--stats") == 0) {
      s->stats_path = value;
    } else {
      return -1;
    }
  }
  return s->n_tcp + s->n_udp > 0 ? 0 : -1;
}

/* Builds the listening address; returns the family or -1 when ADDR is not an IP address. */
static int MakeBindAddress(const char* addr, int port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in* sin = (struct sockaddr_in*)ss;
  struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
  if (addr != NULL && inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    *len = sizeof(*sin);
    return AF_INET;
  }
  if (addr != NULL && inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) return -1;
  if (addr == NULL) sin6->sin6_addr = in6addr_any;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  *len = sizeof(*sin6);
  return AF_INET6;
}

enum { kUdpReceiveBuffer = 16 << 20 };

static int OpenSocket(const char* addr, int port, int socktype) {
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int family = MakeBindAddress(addr, port, &ss, &len);
  if (family < 0) {
    fprintf(stderr, "picket_test_server: '%s' is not an IP address\n", addr);
    return -1;
  }
  int fd = socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("picket_test_server: socket");
    return -1;
  }
  int one = 1;
  int v6only = addr != NULL;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  if (socktype == SOCK_DGRAM) {
    /* The default receive buffer (net.core.rmem_default, 212992 bytes) holds only 256 small
     * datagrams: a server that is not scheduled for a moment on a busy machine dropped the rest
     * (Udp6RcvbufErrors). SO_RCVBUFFORCE (root) passes net.core.rmem_max; else best effort. */
    int rcvbuf = kUdpReceiveBuffer;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
  }
  if (bind(fd, (struct sockaddr*)&ss, len) != 0 ||
      (socktype == SOCK_STREAM && listen(fd, 128) != 0)) {
    fprintf(stderr, "picket_test_server: bind/listen %s port %d: %s\n", addr ? addr : "[::]", port,
            strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static void WriteStats(const struct Server* s, FILE* out) {
  fprintf(out, "tcp_accepted %lu\ntcp_lines %lu\nudp_datagrams %lu\ntags_dropped %lu\n",
          s->tcp_accepted, s->tcp_lines, s->udp_datagrams, s->tags_dropped);
  for (int i = 0; i < s->n_tcp; i++) fprintf(out, "tcp_accepted:%d %lu\n", s->tcp[i].port, s->tcp[i].count);
  for (int i = 0; i < s->n_udp; i++) fprintf(out, "udp_datagrams:%d %lu\n", s->udp[i].port, s->udp[i].count);
  for (int i = 0; i < s->n_tags; i++) {
    fprintf(out, "tcp_from:%s %lu\nudp_from:%s %lu\n", s->tags[i].name, s->tags[i].tcp,
            s->tags[i].name, s->tags[i].udp);
  }
}

static void SaveStats(const struct Server* s) {
  if (s->stats_path == NULL) return;
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", s->stats_path);
  FILE* f = fopen(tmp, "w");
  if (f == NULL) {
    fprintf(stderr, "picket_test_server: cannot write %s: %s\n", tmp, strerror(errno));
    return;
  }
  WriteStats(s, f);
  if (fclose(f) != 0 || rename(tmp, s->stats_path) != 0) {
    fprintf(stderr, "picket_test_server: cannot save %s: %s\n", s->stats_path, strerror(errno));
  }
}

/* Counts one arrival for the first word of `text` (len bytes). */
static void CountTag(struct Server* s, const char* text, size_t len, int is_tcp) {
  size_t word = 0;
  while (word < len && word < kTagLen - 1 && text[word] != ' ' && text[word] != '\n' &&
         text[word] != '\t' && text[word] != '\r') {
    word++;
  }
  if (word == 0) return;
  struct Tag* tag = NULL;
  for (int i = 0; i < s->n_tags && tag == NULL; i++) {
    if (strlen(s->tags[i].name) == word && memcmp(s->tags[i].name, text, word) == 0) tag = &s->tags[i];
  }
  if (tag == NULL) {
    if (s->n_tags == kMaxTags) {
      s->tags_dropped++;
      return;
    }
    tag = &s->tags[s->n_tags++];
    memcpy(tag->name, text, word);
    tag->name[word] = '\0';
  }
  if (is_tcp) {
    tag->tcp++;
  } else {
    tag->udp++;
  }
}

static void CloseConn(struct Server* s, int index) {
  close(s->conns[index].fd);
  s->conns[index] = s->conns[s->n_conns - 1];
  s->n_conns--;
}

static void AcceptOn(struct Server* s, struct Listener* l) {
  for (int budget = 0; budget < 64; budget++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (s->n_conns == kMaxConns) {
      close(fd);
      continue;
    }
    struct Conn* c = &s->conns[s->n_conns++];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->abort_after_echo = l->abort_after_echo;
    l->count++;
    s->tcp_accepted++;
  }
}

/* Reads what the connection sent and echoes it. Returns 0 to keep it, -1 to close it. */
static int ServeConn(struct Server* s, struct Conn* c) {
  char buf[4096];
  ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
  if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (n == 0) return -1;
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '\n') s->tcp_lines++;
  }
  if (!c->tagged) {
    size_t room = sizeof(c->line) - c->line_len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(c->line + c->line_len, buf, take);
    c->line_len += take;
    if (memchr(c->line, '\n', c->line_len) != NULL || c->line_len == sizeof(c->line)) {
      CountTag(s, c->line, c->line_len, 1);
      c->tagged = 1;
    }
  }
  SaveStats(s); /* before the echo: once a client has its answer, the counts are on disk */
  /* Best effort: the tests send one short line, which always fits the socket buffer. */
  if (send(c->fd, buf, (size_t)n, MSG_NOSIGNAL) != n) return -1;
  if (c->abort_after_echo && c->tagged) {
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    return -1; /* closed by the caller: RST */
  }
  return 0;
}

static void ServeUdp(struct Server* s, struct Listener* l) {
  for (int budget = 0; budget < 64; budget++) {
    char buf[2048];
    struct sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(l->fd, buf, sizeof(buf), 0, (struct sockaddr*)&from, &from_len);
    if (n < 0) return;
    l->count++;
    s->udp_datagrams++;
    CountTag(s, buf, (size_t)n, 0);
    SaveStats(s);
    sendto(l->fd, buf, (size_t)n, 0, (struct sockaddr*)&from, from_len);
  }
}

static int OpenAll(struct Server* s) {
  for (int i = 0; i < s->n_tcp; i++) {
    s->tcp[i].fd = OpenSocket(s->bind_addr, s->tcp[i].port, SOCK_STREAM);
    if (s->tcp[i].fd < 0) return -1;
  }
  for (int i = 0; i < s->n_udp; i++) {
    s->udp[i].fd = OpenSocket(s->bind_addr, s->udp[i].port, SOCK_DGRAM);
    if (s->udp[i].fd < 0) return -1;
  }
  return 0;
}

static void InstallSignals(sigset_t* run_mask) {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, run_mask);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = OnDump;
  sigaction(SIGUSR1, &sa, NULL);
}

/* One poll round: listeners first, then connections. Returns 1 when counts changed. */
static int PollOnce(struct Server* s, const sigset_t* run_mask) {
  struct pollfd fds[2 * kMaxPorts + kMaxConns];
  int n = 0;
  for (int i = 0; i < s->n_tcp; i++) fds[n++] = (struct pollfd){s->tcp[i].fd, POLLIN, 0};
  for (int i = 0; i < s->n_udp; i++) fds[n++] = (struct pollfd){s->udp[i].fd, POLLIN, 0};
  const int n_listeners = n;
  const int n_conns = s->n_conns;
  for (int i = 0; i < n_conns; i++) fds[n++] = (struct pollfd){s->conns[i].fd, POLLIN, 0};
  if (ppoll(fds, (nfds_t)n, NULL, run_mask) <= 0) return 0;
  int changed = 0;
  for (int i = 0; i < s->n_tcp; i++) {
    if (fds[i].revents) { AcceptOn(s, &s->tcp[i]); changed = 1; }
  }
  for (int i = 0; i < s->n_udp; i++) {
    if (fds[s->n_tcp + i].revents) { ServeUdp(s, &s->udp[i]); changed = 1; }
  }
  /* Walk backwards so CloseConn's swap-with-last never skips a polled connection. */
  for (int i = n_conns - 1; i >= 0; i--) {
    if (fds[n_listeners + i].revents == 0) continue;
    changed = 1;
    if (ServeConn(s, &s->conns[i]) != 0) CloseConn(s, i);
  }
  return changed;
}

int main(int argc, char** argv) {
  static struct Server s;
  if (ParseArgs(argc, argv, &s) != 0) {
    Usage();
    return 3;
  }
  sigset_t run_mask;
  InstallSignals(&run_mask);
  if (OpenAll(&s) != 0) return 1;
  SaveStats(&s);
  printf("listening\n");
  fflush(stdout);
  while (!g_stop) {
    if (PollOnce(&s, &run_mask)) SaveStats(&s);
    if (g_dump) {
      g_dump = 0;
      WriteStats(&s, stdout);
      fflush(stdout);
    }
  }
  return 0;
}
