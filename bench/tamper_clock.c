// tamper_clock — how long after another tool's ruleset change the rules are back (tamper detection).
//
//   tamper_clock ROUNDS -- COMMAND [ARGS...]
//
// Listens to nf_tables change events (NETLINK_NETFILTER, group NFNLGRP_NFTABLES) in its own network
// namespace. Each round runs COMMAND (e.g. `iptables -w -t mangle -F`, `nft flush ruleset`) and
// timestamps, on receipt, the NEWGEN message that closes each committed transaction: the first is
// COMMAND's own commit, the ones after it are picketd's re-install transactions (one per family for
// the iptables backend). A round ends 300 ms after the last event (or 3 s after COMMAND started).
// Prints, over the rounds: flush commit → first re-install commit and → last re-install commit
// (median, p95, max in ms), and how many rounds saw no re-install. Needs CAP_NET_ADMIN.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMaxRounds = 1000, kQuietMs = 300, kRoundLimitMs = 3000, kBufBytes = 1 << 16 };

static double NowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int OpenEvents(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return -1;
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  int group = NFNLGRP_NFTABLES;
  if (bind(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0 ||
      setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Number of NEWGEN messages in one datagram.
static int CountGens(const char* buf, int len) {
  int gens = 0;
  for (const struct nlmsghdr* h = (const struct nlmsghdr*)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (NFNL_SUBSYS_ID(h->nlmsg_type) == NFNL_SUBSYS_NFTABLES && NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_NEWGEN) ++gens;
  }
  return gens;
}

static void Drain(int fd, char* buf) {
  while (recv(fd, buf, kBufBytes, MSG_DONTWAIT) > 0) {
  }
}

static pid_t Spawn(char** argv) {
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[0], argv);
    _exit(127);
  }
  return pid;
}

struct Round {
  double first;  // ms from the command's commit to the first re-install commit; < 0: none
  double last;   // ... to the last one
};

// Runs one round; returns 0, or -1 when the command failed or its commit was never seen.
static int RunRound(int fd, char* buf, char** argv, struct Round* out) {
  Drain(fd, buf);
  const double start = NowMs();
  pid_t child = Spawn(argv);
  if (child < 0) return -1;
  double flush_commit = -1, last_event = start;
  out->first = out->last = -1;
  while (NowMs() - last_event < kQuietMs && NowMs() - start < kRoundLimitMs) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10) <= 0) continue;
    ssize_t n = recv(fd, buf, kBufBytes, MSG_DONTWAIT);
    if (n <= 0) continue;
    const double at = NowMs();
    last_event = at;
    for (int gens = CountGens(buf, (int)n); gens > 0; --gens) {
      if (flush_commit < 0) {
        flush_commit = at;
      } else {
        if (out->first < 0) out->first = at - flush_commit;
        out->last = at - flush_commit;
      }
    }
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return flush_commit < 0 ? -1 : 0;
}

static int CompareDoubles(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void PrintStat(const char* what, double* v, int n) {
  if (n == 0) {
    printf("%s: no samples\n", what);
    return;
  }
  qsort(v, (size_t)n, sizeof(double), CompareDoubles);
  const int p95 = (int)((n - 1) * 0.95 + 0.5);
  printf("%s: median %.1f ms, p95 %.1f ms, max %.1f ms (%d rounds)\n", what, v[(n - 1) / 2], v[p95], v[n - 1], n);
}

int main(int argc, char** argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: tamper_clock ROUNDS -- COMMAND [ARGS...]\n");
    return 2;
  }
  const int rounds = atoi(argv[1]);
  if (rounds < 1 || rounds > kMaxRounds) {
    fprintf(stderr, "tamper_clock: ROUNDS must be 1..%d\n", kMaxRounds);
    return 2;
  }
  int fd = OpenEvents();
  if (fd < 0) {
    perror("tamper_clock: NETLINK_NETFILTER socket joining NFNLGRP_NFTABLES");
    return 1;
  }
  static char buf[kBufBytes];
  static double first[kMaxRounds], last[kMaxRounds];
  int n = 0, missing = 0;
  for (int r = 0; r < rounds; ++r) {
    struct Round round;
    if (RunRound(fd, buf, argv + 3, &round) != 0) {
      fprintf(stderr, "tamper_clock: round %d: %s failed or committed nothing\n", r, argv[3]);
      return 1;
    }
    if (round.first < 0) {
      ++missing;
      continue;
    }
    first[n] = round.first;
    last[n] = round.last;
    ++n;
  }
  PrintStat("commit -> first re-install commit", first, n);
  PrintStat("commit -> last re-install commit", last, n);
  printf("rounds without a re-install: %d\n", missing);
  close(fd);
  return missing == 0 ? 0 : 1;
}
