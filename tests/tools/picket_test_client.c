/* picket_test_client: the program whose connections the end-to-end tests let through or block.
 *
 *   picket_test_client tcp|udp|tcp6|udp6|icmp|icmp6|rawicmp|rawicmp6|rawsyn HOST PORT [--timeout-ms N]
 *                      [--count N] [--sport N]
 *                      [--wait-peer-close] [--resolver IPV4 [--resolver-tcp]]
 *                      [--exit-after-send] [--sendto] [--report-sport] [--fork-first] [--thread]
 *
 * TCP: connect (bounded by the timeout), send one line, wait for the same line back.
 * UDP: send one datagram, wait for the same datagram back.
 * With --count N it makes N attempts, each on a new socket (so each is a new connection to the
 * firewall). --sport N binds every attempt to source port N (SO_REUSEADDR), so a test can reuse a
 * 4-tuple that an earlier connection used. --wait-peer-close (TCP): after the echo, wait (within the
 * timeout) until the server ends the connection (EOF or reset) before closing, so the server's FIN
 * or RST is the connection's last packet. The payload is "<own exe path> <pid> <attempt>\n"; picket_test_server counts what
 * arrives per exe path, so a test can tell which copy of this binary reached it.
 * With --resolver IPV4, HOST is a name: the client asks that DNS server (UDP port 53, one query of
 * type A for tcp/udp, AAAA for tcp6/udp6, no search domains, ~1 s timeout, one retry) and uses the
 * first address of the answer. --resolver-tcp sends the query over TCP instead.
 * --exit-after-send: do not wait for anything — TCP returns right after the non-blocking connect()
 * (the SYN is on its way), UDP right after sending its one datagram — and the process exits at once;
 * the result line then reports `sent` and adds sport=N (the source port of the last attempt).
 * --sendto (UDP): send with sendto() on an unconnected socket instead of connect() + send().
 * --report-sport: the result line adds sport=N (as with --exit-after-send) in every mode.
 * --fork-first: the process forks at once and the parent exits; the child waits (up to 2 s) until
 * it has been re-parented (its parent is gone), then does the attempts and prints the result line
 * (its exit code is lost: read the result line).
 * --thread: the attempts run on a second thread (not the main thread), which the main thread joins.
 * icmp / icmp6: an ICMP echo request from a ping socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6; needs
 * net.ipv4.ping_group_range to include the caller's group), then wait for the echo reply; PORT is
 * ignored. The kernel sets the echo identifier (the socket's "port", reported as sport=N).
 * rawicmp / rawicmp6: the same echo request from a raw socket (SOCK_RAW, IPPROTO_ICMP/ICMPV6; needs
 * CAP_NET_RAW), identifier = --sport N or else the pid's low 16 bits (reported as sport=N), then
 * wait for the echo reply with that identifier unless --exit-after-send.
 * rawsyn: a TCP SYN to HOST:PORT built by hand and sent with IP_HDRINCL (as nmap does; IPv4,
 * needs CAP_NET_RAW) from source port --sport N (else 32768 + pid % 28000); never waits (as with
 * --exit-after-send: result `sent`, sport=N).
 *
 * Exit codes (of the first attempt that fails, 0 when all succeed):
 *   0 reached and echoed
 *   1 timeout / no answer (also EPERM/EACCES: a local firewall dropped the packet)
 *   2 refused or reset (fast failure: ECONNREFUSED, ECONNRESET)
 *   3 usage or any other error
 *   4 --resolver given and the name did not resolve (no answer, error, or no address)
 * One line on stdout:
 *   result=<ok|timeout|blocked|refused|error> proto=P dst=H:P ok=K/N elapsed_ms=T [errno=NAME]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum Outcome { kOk = 0, kTimeout = 1, kRefused = 2, kError = 3, kUnresolved = 4 };

struct Options {
  int family;
  int socktype;
  int protocol; /* 0, or IPPROTO_ICMP / IPPROTO_ICMPV6 for a ping or raw ICMP socket */
  int raw;      /* SOCK_RAW: rawicmp, rawicmp6, rawsyn */
  const char* proto_name;
  const char* host;
  int port;
  int timeout_ms;
  int count;
  int sport; /* 0 = let the kernel choose */
  int wait_peer_close;
  const char* resolver; /* NULL: HOST is an address */
  int resolver_tcp;
  int exit_after_send;
  int use_sendto;
  int report_sport;
  int fork_first;
  int on_thread;
};

static int g_last_sport;

struct Attempt {
  enum Outcome outcome;
  int err; /* errno behind a failure, 0 for a plain timeout */
  const char* what;
};

static void Usage(void) {
  fprintf(stderr,
          "usage: picket_test_client tcp|udp|tcp6|udp6|icmp|icmp6|rawicmp|rawicmp6|rawsyn HOST PORT [--timeout-ms N] [--count N] "
          "[--sport N] [--wait-peer-close] [--resolver IPV4 [--resolver-tcp]] [--exit-after-send] [--sendto] "
          "[--report-sport] [--fork-first] [--thread]\n");
}

static long long NowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ParseInt(const char* text, int min, int max, int* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return -1;
  *out = (int)v;
  return 0;
}

static int ParseProto(const char* name, struct Options* o) {
  o->proto_name = name;
  o->protocol = 0;
  o->raw = 0;
  if (strcmp(name, "rawicmp") == 0) { o->family = AF_INET; o->socktype = SOCK_RAW; o->protocol = IPPROTO_ICMP; o->raw = 1; return 0; }
  if (strcmp(name, "rawicmp6") == 0) { o->family = AF_INET6; o->socktype = SOCK_RAW; o->protocol = IPPROTO_ICMPV6; o->raw = 1; return 0; }
  if (strcmp(name, "rawsyn") == 0) { o->family = AF_INET; o->socktype = SOCK_RAW; o->protocol = IPPROTO_TCP; o->raw = 1; return 0; }
  if (strcmp(name, "icmp") == 0) { o->family = AF_INET; o->socktype = SOCK_DGRAM; o->protocol = IPPROTO_ICMP; return 0; }
  if (strcmp(name, "icmp6") == 0) { o->family = AF_INET6; o->socktype = SOCK_DGRAM; o->protocol = IPPROTO_ICMPV6; return 0; }
  if (strcmp(name, "tcp") == 0) { o->family = AF_INET; o->socktype = SOCK_STREAM; return 0; }
  if (strcmp(name, "udp") == 0) { o->family = AF_INET; o->socktype = SOCK_DGRAM; return 0; }
  if (strcmp(name, "tcp6") == 0) { o->family = AF_INET6; o->socktype = SOCK_STREAM; return 0; }
  if (strcmp(name, "udp6") == 0) { o->family = AF_INET6; o->socktype = SOCK_DGRAM; return 0; }
  return -1;
}

static int ParseArgs(int argc, char** argv, struct Options* o) {
  if (argc < 4) return -1;
  if (ParseProto(argv[1], o) != 0) return -1;
  o->host = argv[2];
  if (ParseInt(argv[3], 1, 65535, &o->port) != 0) return -1;
  o->timeout_ms = 2000;
  o->count = 1;
  o->sport = 0;
  o->wait_peer_close = 0;
  o->resolver = NULL;
  o->resolver_tcp = 0;
  o->exit_after_send = 0;
  o->use_sendto = 0;
  o->report_sport = 0;
  o->fork_first = 0;
  o->on_thread = 0;
  /* Flags without a value: each sets its field to 1. */
  const struct {
    const char* name;
    int* field;
  } switches[] = {
      {"--wait-peer-close", &o->wait_peer_close}, {"--exit-after-send", &o->exit_after_send},
      {"--sendto", &o->use_sendto},               {"--report-sport", &o->report_sport},
      {"--fork-first", &o->fork_first},           {"--thread", &o->on_thread},
      {"--resolver-tcp", &o->resolver_tcp},
  };
  for (int i = 4; i < argc; i++) {
    const char* flag = argv[i];
    int matched = 0;
    for (size_t k = 0; k < sizeof(switches) / sizeof(switches[0]) && !matched; k++) {
      if (strcmp(flag, switches[k].name) == 0) {
        *switches[k].field = 1;
        matched = 1;
      }
    }
    if (matched) continue;
    if (i + 1 >= argc) return -1;
    const char* value = argv[++i];
    int ok;
    if (strcmp(flag, "--timeout-ms") == 0) {
      ok = ParseInt(value, 1, 600000, &o->timeout_ms) == 0;
    } else if (strcmp(flag, "--count") == 0) {
      ok = ParseInt(value, 1, 100000, &o->count) == 0;
    } else if (strcmp(flag, "--sport") == 0) {
      ok = ParseInt(value, 1, 65535, &o->sport) == 0;
    } else if (strcmp(flag, "--resolver") == 0) {
      o->resolver = value;
      ok = 1;
    } else {
      ok = 0;
    }
    if (!ok) return -1;
  }
  return 0;
}

static int MakeAddress(const struct Options* o, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  if (o->family == AF_INET) {
    struct sockaddr_in* sin = (struct sockaddr_in*)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &sin->sin_addr) != 1) return -1;
    *len = sizeof(*sin);
  } else {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET6, o->host, &sin6->sin6_addr) != 1) return -1;
    *len = sizeof(*sin6);
  }
  return 0;
}

/* Resolves o->host through the DNS server o->resolver into `text` (an address for MakeAddress).
 * Returns 0 on success, -1 when the name did not resolve. */
static int ResolveName(const struct Options* o, char* text, size_t text_size) {
  struct __res_state state;
  memset(&state, 0, sizeof(state));
  if (res_ninit(&state) != 0) return -1;
  struct sockaddr_in server;
  memset(&server, 0, sizeof(server));
  server.sin_family = AF_INET;
  server.sin_port = htons(53);
  if (inet_pton(AF_INET, o->resolver, &server.sin_addr) != 1) {
    res_nclose(&state);
    return -1;
  }
  state.nsaddr_list[0] = server;
  state.nscount = 1;
  state.retrans = 1;
  state.retry = 2;
  state.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
  if (o->resolver_tcp) state.options |= RES_USEVC;
  unsigned char answer[2048];
  const int type = o->family == AF_INET ? ns_t_a : ns_t_aaaa;
  const int n = res_nquery(&state, o->host, ns_c_in, type, answer, sizeof(answer));
  res_nclose(&state);
  if (n < 0) return -1;
  ns_msg msg;
  if (ns_initparse(answer, n, &msg) != 0) return -1;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) return -1;
    if ((int)ns_rr_type(rr) != type) continue;
    const size_t want = o->family == AF_INET ? 4 : 16;
    if (ns_rr_rdlen(rr) != want) continue;
    return inet_ntop(o->family, ns_rr_rdata(rr), text, (socklen_t)text_size) != NULL ? 0 : -1;
  }
  return -1;
}

static struct Attempt Failure(int err, const char* what) {
  struct Attempt a;
  a.err = err;
  a.what = what;
  if (err == ECONNREFUSED || err == ECONNRESET) {
    a.outcome = kRefused;
  } else if (err == EPERM || err == EACCES || err == ETIMEDOUT || err == EHOSTUNREACH ||
             err == ENETUNREACH) {
    a.outcome = kTimeout;
  } else {
    a.outcome = kError;
  }
  return a;
}

static struct Attempt TimedOut(void) {
  struct Attempt a = {kTimeout, 0, "timeout"};
  return a;
}

/* Waits until fd has `events` or the deadline passes. Returns 1 ready, 0 timeout, -1 error. */
static int WaitFor(int fd, short events, long long deadline_ms) {
  for (;;) {
    long long left = deadline_ms - NowMs();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, (int)left);
    if (n > 0) return 1;
    if (n == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

/* Reads the echo of `sent` (len bytes) from fd before the deadline. */
static struct Attempt ReadEcho(int fd, const char* sent, size_t len, long long deadline_ms) {
  char buf[512];
  size_t got = 0;
  while (got < len) {
    int ready = WaitFor(fd, POLLIN, deadline_ms);
    if (ready == 0) return TimedOut();
    if (ready < 0) return Failure(errno, "poll");
    ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Failure(errno, "recv");
    }
    if (n == 0) return Failure(ECONNRESET, "recv");
    got += (size_t)n;
  }
  if (memcmp(buf, sent, len) != 0) {
    struct Attempt a = {kError, 0, "echo mismatch"};
    return a;
  }
  struct Attempt ok = {kOk, 0, "ok"};
  return ok;
}

/* Binds fd to the wildcard address of its family and source port o->sport. */
static int BindSourcePort(int fd, const struct Options* o) {
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_storage src;
  memset(&src, 0, sizeof(src));
  socklen_t len;
  if (o->family == AF_INET) {
    struct sockaddr_in* sin = (struct sockaddr_in*)&src;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)o->sport);
    len = sizeof(*sin);
  } else {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&src;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)o->sport);
    len = sizeof(*sin6);
  }
  return bind(fd, (struct sockaddr*)&src, len);
}

/* Waits until the peer ends the connection: EOF or a reset both count as success. */
static struct Attempt WaitPeerClose(int fd, long long deadline_ms) {
  for (;;) {
    int ready = WaitFor(fd, POLLIN, deadline_ms);
    if (ready == 0) return TimedOut();
    if (ready < 0) return Failure(errno, "poll");
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      struct Attempt ok = {kOk, 0, "ok"};
      return ok;
    }
    if (n < 0 && errno != EINTR && errno != EAGAIN) return Failure(errno, "recv");
  }
}

static int LocalPort(int fd) {
  struct sockaddr_storage local;
  socklen_t len = sizeof(local);
  if (getsockname(fd, (struct sockaddr*)&local, &len) != 0) return 0;
  if (local.ss_family == AF_INET) return ntohs(((struct sockaddr_in*)&local)->sin_port);
  return ntohs(((struct sockaddr_in6*)&local)->sin6_port);
}

/* --exit-after-send: the packet is on its way; the socket is left for the process exit to close. */
static struct Attempt Sent(int fd) {
  (void)fd;
  struct Attempt a = {kOk, 0, "sent"};
  return a;
}

static uint16_t InternetChecksum(const unsigned char* bytes, size_t size) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < size; i += 2) sum += (uint32_t)(bytes[i] << 8 | bytes[i + 1]);
  if (size % 2 != 0) sum += (uint32_t)(bytes[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* The source port (rawsyn) or echo identifier (rawicmp) of a raw-socket attempt. */
static int RawSourcePort(const struct Options* o) {
  if (o->sport != 0) return o->sport;
  return o->protocol == IPPROTO_TCP ? 32768 + (int)(getpid() % 28000) : (int)(getpid() & 0xffff);
}

/* Waits for the echo reply on ICMP socket `fd`: a ping socket gets only its own replies; a raw
 * one gets every ICMP packet (IPv4: after the IP header), so the identifier `id` must match. */
static struct Attempt EchoReply(const struct Options* o, int fd, int id, long long deadline) {
  const unsigned char reply_type = o->family == AF_INET ? 0 : 129;
  for (;;) {
    int ready = WaitFor(fd, POLLIN, deadline);
    if (ready <= 0) return ready == 0 ? TimedOut() : Failure(errno, "poll");
    unsigned char reply[1024];
    ssize_t n = recv(fd, reply, sizeof(reply), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Failure(errno, "recv");
    size_t at = o->raw && o->family == AF_INET && n > 0 ? (size_t)(reply[0] & 0x0f) * 4 : 0;
    if ((size_t)n >= at + 8 && reply[at] == reply_type && (!o->raw || (reply[at + 4] << 8 | reply[at + 5]) == id)) {
      struct Attempt ok = {kOk, 0, "ok"};
      return ok;
    }
  }
}

/* One echo request from a ping socket (icmp, icmp6: the kernel sets identifier and checksum) or a
 * raw socket (rawicmp, rawicmp6); waits for the reply unless --exit-after-send. */
static struct Attempt EchoAttempt(const struct Options* o, const struct sockaddr_storage* dst,
                                  socklen_t dst_len, const char* payload, size_t payload_len) {
  const long long deadline = NowMs() + o->timeout_ms;
  int fd = socket(o->family, (o->raw ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, o->protocol);
  if (fd < 0) return Failure(errno, "socket");
  const int id = o->raw ? RawSourcePort(o) : 0;
  unsigned char packet[8 + PATH_MAX + 64];
  const size_t body = payload_len < sizeof(packet) - 8 ? payload_len : sizeof(packet) - 8;
  memset(packet, 0, 8);
  packet[0] = o->family == AF_INET ? 8 : 128; /* echo request */
  packet[4] = (unsigned char)(id >> 8);
  packet[5] = (unsigned char)id;
  packet[7] = 1; /* sequence 1 */
  memcpy(packet + 8, payload, body);
  if (o->raw && o->family == AF_INET) { /* raw ICMPv6: the kernel computes the checksum */
    const uint16_t sum = InternetChecksum(packet, 8 + body);
    packet[2] = (unsigned char)(sum >> 8);
    packet[3] = (unsigned char)sum;
  }
  /* A raw IPv6 socket takes the port field as a protocol number: it must be 0. */
  struct sockaddr_storage to = *dst;
  if (o->raw && o->family == AF_INET6) ((struct sockaddr_in6*)&to)->sin6_port = 0;
  struct Attempt result;
  if (sendto(fd, packet, 8 + body, MSG_NOSIGNAL, (const struct sockaddr*)&to, dst_len) != (ssize_t)(8 + body)) {
    result = Failure(errno, "sendto");
    close(fd);
    return result;
  }
  g_last_sport = o->raw ? id : LocalPort(fd);
  if (o->exit_after_send) return Sent(fd);
  result = EchoReply(o, fd, id, deadline);
  close(fd);
  return result;
}

/* rawsyn: a hand-built TCP SYN sent with IP_HDRINCL; the source address is the one the kernel
 * would pick for HOST (a connected UDP socket tells). */
static struct Attempt RawSynAttempt(const struct Options* o, const struct sockaddr_storage* dst, socklen_t dst_len) {
  int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return Failure(errno, "socket");
  struct sockaddr_in src;
  socklen_t src_len = sizeof(src);
  if (connect(probe, (const struct sockaddr*)dst, dst_len) != 0 ||
      getsockname(probe, (struct sockaddr*)&src, &src_len) != 0) {
    struct Attempt failed = Failure(errno, "source address");
    close(probe);
    return failed;
  }
  close(probe);
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); /* IPPROTO_RAW implies IP_HDRINCL */
  if (fd < 0) return Failure(errno, "socket");
  const struct sockaddr_in* to = (const struct sockaddr_in*)dst;
  const int sport = RawSourcePort(o);
  unsigned char packet[40];
  memset(packet, 0, sizeof(packet));
  packet[0] = 0x45;
  packet[3] = sizeof(packet);
  packet[6] = 0x40; /* don't fragment */
  packet[8] = 64;
  packet[9] = IPPROTO_TCP;
  memcpy(packet + 12, &src.sin_addr, 4);
  memcpy(packet + 16, &to->sin_addr, 4);
  unsigned char* tcp = packet + 20;
  tcp[0] = (unsigned char)(sport >> 8);
  tcp[1] = (unsigned char)sport;
  memcpy(tcp + 2, &to->sin_port, 2);
  tcp[4] = (unsigned char)(getpid() >> 8); /* sequence number */
  tcp[7] = 1;
  tcp[12] = 5 << 4; /* data offset: 20 bytes */
  tcp[13] = 0x02;   /* SYN */
  tcp[14] = 0xff;   /* window */
  unsigned char pseudo[12 + 20];
  memcpy(pseudo, packet + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP;
  pseudo[10] = 0;
  pseudo[11] = 20;
  memcpy(pseudo + 12, tcp, 20);
  const uint16_t sum = InternetChecksum(pseudo, sizeof(pseudo));
  tcp[16] = (unsigned char)(sum >> 8);
  tcp[17] = (unsigned char)sum;
  if (sendto(fd, packet, sizeof(packet), MSG_NOSIGNAL, (const struct sockaddr*)dst, dst_len) != (ssize_t)sizeof(packet)) {
    struct Attempt failed = Failure(errno, "sendto");
    close(fd);
    return failed;
  }
  g_last_sport = sport;
  return Sent(fd);
}

static struct Attempt OneAttempt(const struct Options* o, const struct sockaddr_storage* dst,
                                 socklen_t dst_len, const char* payload, size_t payload_len) {
  if (o->raw && o->protocol == IPPROTO_TCP) return RawSynAttempt(o, dst, dst_len);
  if (o->protocol != 0) return EchoAttempt(o, dst, dst_len, payload, payload_len);
  const long long deadline = NowMs() + o->timeout_ms;
  int fd = socket(o->family, o->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Failure(errno, "socket");
  struct Attempt result;
  if (o->sport != 0 && BindSourcePort(fd, o) != 0) {
    result = Failure(errno, "bind");
    close(fd);
    return result;
  }
  if (o->use_sendto && o->socktype == SOCK_DGRAM) {
    if (sendto(fd, payload, payload_len, MSG_NOSIGNAL, (const struct sockaddr*)dst, dst_len) != (ssize_t)payload_len) {
      result = Failure(errno, "sendto");
      close(fd);
      return result;
    }
    g_last_sport = LocalPort(fd);
    if (o->exit_after_send) return Sent(fd);
    result = ReadEcho(fd, payload, payload_len, deadline);
    close(fd);
    return result;
  }
  /* connect() on a UDP socket only sets the peer; it makes an ICMP unreachable visible as
   * ECONNREFUSED on recv. On TCP it starts the handshake. */
  if (connect(fd, (const struct sockaddr*)dst, dst_len) != 0 && errno != EINPROGRESS) {
    result = Failure(errno, "connect");
    close(fd);
    return result;
  }
  g_last_sport = LocalPort(fd); /* TCP: chosen by connect(); connected UDP: bound by connect() */
  if (o->socktype == SOCK_STREAM && o->exit_after_send) return Sent(fd);
  if (o->socktype == SOCK_STREAM) {
    int ready = WaitFor(fd, POLLOUT, deadline);
    if (ready <= 0) {
      result = ready == 0 ? TimedOut() : Failure(errno, "poll");
      close(fd);
      return result;
    }
    int soerr = 0;
    socklen_t soerr_len = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len);
    if (soerr != 0) {
      close(fd);
      return Failure(soerr, "connect");
    }
  }
  if (send(fd, payload, payload_len, MSG_NOSIGNAL) != (ssize_t)payload_len) {
    result = Failure(errno, "send");
    close(fd);
    return result;
  }
  if (o->exit_after_send) return Sent(fd);
  result = ReadEcho(fd, payload, payload_len, deadline);
  if (result.outcome == kOk && o->wait_peer_close && o->socktype == SOCK_STREAM) {
    result = WaitPeerClose(fd, deadline);
  }
  close(fd);
  return result;
}

static const char* OutcomeName(const struct Attempt* a) {
  switch (a->outcome) {
    case kOk: return "ok";
    case kTimeout: return a->err == 0 || a->err == ETIMEDOUT ? "timeout" : "blocked";
    case kRefused: return "refused";
    case kError: return "error";
    case kUnresolved: return "unresolved";
  }
  return "error";
}

static void SelfPath(char* out, size_t size) {
  ssize_t n = readlink("/proc/self/exe", out, size - 1);
  if (n < 0) n = 0;
  out[n] = '\0';
}

/* The attempts of one run and their outcome. */
struct Run {
  const struct Options* o;
  const struct sockaddr_storage* dst;
  socklen_t dst_len;
  struct Attempt first_failure;
  int ok;
};

static void RunAttempts(struct Run* run) {
  char self[PATH_MAX];
  SelfPath(self, sizeof(self));
  run->first_failure.outcome = kOk;
  run->first_failure.err = 0;
  run->first_failure.what = "ok";
  for (int i = 0; i < run->o->count; i++) {
    char payload[PATH_MAX + 64];
    int len = snprintf(payload, sizeof(payload), "%s %d %d\n", self, (int)getpid(), i);
    struct Attempt a = OneAttempt(run->o, run->dst, run->dst_len, payload, (size_t)len);
    if (a.outcome == kOk) {
      run->ok++;
    } else if (run->first_failure.outcome == kOk) {
      run->first_failure = a;
    }
  }
}

static void* RunAttemptsOnThread(void* run) {
  RunAttempts((struct Run*)run);
  return NULL;
}

/* --fork-first: the parent exits at once; returns 0 in the child once it has been re-parented. */
static int ForkFirst(void) {
  const pid_t parent = getpid();
  fflush(stdout);
  const pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "picket_test_client: fork: %s\n", strerror(errno));
    return -1;
  }
  if (child > 0) _exit(kOk);
  const long long deadline = NowMs() + 2000;
  while (getppid() == parent) {
    if (NowMs() > deadline) {
      fprintf(stderr, "picket_test_client: parent %d did not exit within 2 s\n", (int)parent);
      return -1;
    }
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
  }
  return 0;
}

int main(int argc, char** argv) {
  struct Options o;
  if (ParseArgs(argc, argv, &o) != 0) {
    Usage();
    return kError;
  }
  char resolved[INET6_ADDRSTRLEN];
  if (o.resolver != NULL) {
    const long long resolve_start = NowMs();
    if (ResolveName(&o, resolved, sizeof(resolved)) != 0) {
      printf("result=unresolved proto=%s host=%s elapsed_ms=%lld\n", o.proto_name, o.host, NowMs() - resolve_start);
      return kUnresolved;
    }
    o.host = resolved;
  }
  struct sockaddr_storage dst;
  socklen_t dst_len = 0;
  if (MakeAddress(&o, &dst, &dst_len) != 0) {
    fprintf(stderr, "picket_test_client: '%s' is not an IPv%c address\n", o.host,
            o.family == AF_INET ? '4' : '6');
    return kError;
  }
  if (o.fork_first && ForkFirst() != 0) return kError;
  struct Run run;
  memset(&run, 0, sizeof(run));
  run.o = &o;
  run.dst = &dst;
  run.dst_len = dst_len;
  const long long start = NowMs();
  if (o.on_thread) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, RunAttemptsOnThread, &run) != 0 || pthread_join(thread, NULL) != 0) {
      fprintf(stderr, "picket_test_client: cannot run the attempts on a thread\n");
      return kError;
    }
  } else {
    RunAttempts(&run);
  }
  const struct Attempt first_failure = run.first_failure;
  const int ok = run.ok;
  const char* open_bracket = o.family == AF_INET6 ? "[" : "";
  const char* close_bracket = o.family == AF_INET6 ? "]" : "";
  const int sends_only = o.exit_after_send || (o.raw && o.protocol == IPPROTO_TCP);
  const char* outcome = sends_only && first_failure.outcome == kOk ? "sent" : OutcomeName(&first_failure);
  printf("result=%s proto=%s dst=%s%s%s:%d ok=%d/%d elapsed_ms=%lld", outcome, o.proto_name, open_bracket, o.host,
         close_bracket, o.port, ok, o.count, NowMs() - start);
  if (sends_only || o.report_sport) printf(" sport=%d", g_last_sport);
  if (first_failure.err != 0) {
    printf(" errno=%s at=%s", strerrorname_np(first_failure.err), first_failure.what);
  } else if (first_failure.outcome == kError) {
    printf(" at=%s", first_failure.what);
  }
  printf("\n");
  return first_failure.outcome;
}
