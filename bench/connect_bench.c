/* connect_bench: connect() latency and connection rate, one connection at a time.
 *
 *   connect_bench HOST PORT [--count N] [--warmup N] [--timeout-ms N] [--label NAME]
 *
 * Makes `warmup` unmeasured connections, then `count` measured ones. Each one: socket(), connect()
 * timed with CLOCK_MONOTONIC, close() with SO_LINGER 0 (an RST: no TIME_WAIT, so tens of thousands
 * of connections never run out of ephemeral ports). Any failed connect ends the run with exit 1.
 *
 * Prints a human line and a machine-readable one:
 *   RESULT label=NAME n=N p50_us=X p99_us=X mean_us=X min_us=X max_us=X conns_per_s=X
 * conns_per_s = count / wall time of the measured loop (socket + connect + close).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct Options {
  struct sockaddr_storage dst;
  socklen_t dst_len;
  int family;
  long count;
  long warmup;
  int timeout_ms;
  const char* label;
};

static void Usage(void) {
  fprintf(stderr,
          "usage: connect_bench HOST PORT [--count N] [--warmup N] [--timeout-ms N] [--label NAME]\n");
}

static long long NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int ParseLong(const char* text, long min, long max, long* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int ParseAddress(const char* host, long port, struct Options* o) {
  memset(&o->dst, 0, sizeof(o->dst));
  struct sockaddr_in* sin = (struct sockaddr_in*)&o->dst;
  struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&o->dst;
  if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    o->dst_len = sizeof(*sin);
    o->family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    o->dst_len = sizeof(*sin6);
    o->family = AF_INET6;
    return 0;
  }
  return -1;
}

static int ParseArgs(int argc, char** argv, struct Options* o) {
  long port = 0, timeout = 2000;
  if (argc < 3 || ParseLong(argv[2], 1, 65535, &port) != 0) return -1;
  if (ParseAddress(argv[1], port, o) != 0) return -1;
  o->count = 20000;
  o->warmup = 200;
  o->label = "run";
  for (int i = 3; i < argc; i += 2) {
    if (i + 1 >= argc) return -1;
    if (strcmp(argv[i], "--count") == 0) {
      if (ParseLong(argv[i + 1], 1, 10000000, &o->count) != 0) return -1;
    } else if (strcmp(argv[i], "--warmup") == 0) {
      if (ParseLong(argv[i + 1], 0, 10000000, &o->warmup) != 0) return -1;
    } else if (strcmp(argv[i], "--timeout-ms") == 0) {
      if (ParseLong(argv[i + 1], 1, 600000, &timeout) != 0) return -1;
    } else if (strcmp(argv[i], "--label") == 0) {
      o->label = argv[i + 1];
    } else {
      return -1;
    }
  }
  o->timeout_ms = (int)timeout;
  return 0;
}

/* One connection; returns the connect() time in ns, or -1 (message printed) on failure. */
static long long OneConnect(const struct Options* o) {
  int fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("connect_bench: socket");
    return -1;
  }
  struct timeval tv = {o->timeout_ms / 1000, (o->timeout_ms % 1000) * 1000};
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* bounds a blocking connect() */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  const long long t0 = NowNs();
  int rc = connect(fd, (const struct sockaddr*)&o->dst, o->dst_len);
  const long long t1 = NowNs();
  if (rc != 0) {
    fprintf(stderr, "connect_bench: connect: %s (after %lld us)\n", strerror(errno), (t1 - t0) / 1000);
    close(fd);
    return -1;
  }
  close(fd);
  return t1 - t0;
}

static int CompareLongLong(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static long long Percentile(const long long* sorted, long n, double p) {
  long rank = (long)(p * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

int main(int argc, char** argv) {
  struct Options o;
  if (ParseArgs(argc, argv, &o) != 0) {
    Usage();
    return 2;
  }
  long long* samples = calloc((size_t)o.count, sizeof(long long));
  if (samples == NULL) {
    fprintf(stderr, "connect_bench: out of memory for %ld samples\n", o.count);
    return 2;
  }
  for (long i = 0; i < o.warmup; i++) {
    if (OneConnect(&o) < 0) return 1;
  }
  const long long start = NowNs();
  long double sum = 0;
  for (long i = 0; i < o.count; i++) {
    samples[i] = OneConnect(&o);
    if (samples[i] < 0) return 1;
    sum += samples[i];
  }
  const long long wall = NowNs() - start;
  qsort(samples, (size_t)o.count, sizeof(long long), CompareLongLong);
  const double p50 = Percentile(samples, o.count, 0.50) / 1000.0;
  const double p99 = Percentile(samples, o.count, 0.99) / 1000.0;
  const double mean = (double)(sum / o.count) / 1000.0;
  const double rate = (double)o.count * 1e9 / (double)wall;
  printf("connect_bench %s: %ld connects: p50 %.1f us, p99 %.1f us, mean %.1f us, %.0f conns/s\n", o.label,
         o.count, p50, p99, mean, rate);
  printf("RESULT label=%s n=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f conns_per_s=%.0f\n",
         o.label, o.count, p50, p99, mean, samples[0] / 1000.0, samples[o.count - 1] / 1000.0, rate);
  free(samples);
  return 0;
}
