/* nfq_floor: the benchmark floor — binds an NFQUEUE and accepts every queued packet without looking
 * at it. Whatever a firewall daemon costs beyond this program is the daemon's own cost.
 *
 *   nfq_floor [--queue-num N] [--copy-range BYTES] [--max-len N] [--fail-closed]
 *
 * Defaults mirror picketd's queue settings (copy 160 bytes, 4096 packets, fail-open) so that the two
 * differ only in what happens between reading a packet and sending its verdict.
 * Prints "ready" once bound. SIGTERM/SIGINT: prints the packet count to stderr and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif

static volatile sig_atomic_t g_stop = 0;
static void OnStop(int sig) { (void)sig; g_stop = 1; }

struct Options {
  long queue_num;
  long copy_range;
  long max_len;
  int fail_open;
};

static unsigned long g_packets = 0;

static int Accept(struct nfq_q_handle* qh, struct nfgenmsg* msg, struct nfq_data* nfa, void* data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == NULL) return 0;
  g_packets++;
  return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
}

static int ParseLong(const char* text, long min, long max, long* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int ParseArgs(int argc, char** argv, struct Options* o) {
  o->queue_num = 0;
  o->copy_range = 160;
  o->max_len = 4096;
  o->fail_open = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--fail-closed") == 0) {
      o->fail_open = 0;
      continue;
    }
    if (i + 1 >= argc) return -1;
    long* target = NULL;
    long max = 0;
    if (strcmp(argv[i], "--queue-num") == 0) { target = &o->queue_num; max = 65535; }
    if (strcmp(argv[i], "--copy-range") == 0) { target = &o->copy_range; max = 65535; }
    if (strcmp(argv[i], "--max-len") == 0) { target = &o->max_len; max = 1 << 20; }
    if (target == NULL || ParseLong(argv[++i], 0, max, target) != 0) return -1;
  }
  return 0;
}

int main(int argc, char** argv) {
  struct Options o;
  if (ParseArgs(argc, argv, &o) != 0) {
    fprintf(stderr, "usage: nfq_floor [--queue-num N] [--copy-range BYTES] [--max-len N] [--fail-closed]\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStop; /* no SA_RESTART: recv() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct nfq_handle* h = nfq_open();
  if (h == NULL) {
    perror("nfq_floor: nfq_open");
    return 1;
  }
  struct nfq_q_handle* qh = nfq_create_queue(h, (uint16_t)o.queue_num, &Accept, NULL);
  if (qh == NULL) {
    fprintf(stderr, "nfq_floor: cannot bind queue %ld: %s\n", o.queue_num, strerror(errno));
    nfq_close(h);
    return 1;
  }
  if (nfq_set_mode(qh, NFQNL_COPY_PACKET, (uint32_t)o.copy_range) < 0 ||
      nfq_set_queue_maxlen(qh, (uint32_t)o.max_len) < 0 ||
      (o.fail_open && nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0)) {
    fprintf(stderr, "nfq_floor: configuring queue %ld: %s\n", o.queue_num, strerror(errno));
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 1;
  }
  const int fd = nfq_fd(h);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
  printf("ready\n");
  fflush(stdout);

  static char buf[65536] __attribute__((aligned(8)));
  while (!g_stop) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      nfq_handle_packet(h, buf, (int)n);
    } else if (n < 0 && errno != EINTR && errno != ENOBUFS) {
      perror("nfq_floor: recv");
      break;
    }
  }
  fprintf(stderr, "nfq_floor: %lu packets accepted\n", g_packets);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
