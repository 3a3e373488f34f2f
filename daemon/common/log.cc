#include "common/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace picket::log {
namespace {

constexpr size_t kFlushThreshold = 16 * 1024;

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_fd{STDERR_FILENO};
std::mutex g_mutex;
std::string g_buffer;  // guarded by g_mutex

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a logging failure
    off += static_cast<size_t>(n);
  }
}

void FlushLocked() {
  if (g_buffer.empty()) return;
  WriteAll(g_fd.load(), g_buffer);
  g_buffer.clear();
}

}  // namespace

Result<Level> ParseLevel(std::string_view name) {
  if (name == "error") return Level::kError;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "info") return Level::kInfo;
  if (name == "debug") return Level::kDebug;
  return Error{"unknown log level '" + std::string(name) + "' (expected error, warn, info or debug)"};
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kError: return "error";
    case Level::kWarn: return "warn";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "?";
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_level.load()); }
void SetOutputFd(int fd) {
  std::lock_guard lock(g_mutex);
  FlushLocked();
  g_fd.store(fd);
}

namespace {

// "2026-11-21T20:47:01.123456Z" into `out` (at least kTimestampBytes); returns its length. The
// date and time of day are formatted once per second per thread, the microseconds every time.
constexpr size_t kTimestampBytes = 32;
size_t FormatNow(char* out) {
  thread_local time_t cached_second = -1;
  thread_local char cached_prefix[24] = {};
  thread_local size_t cached_length = 0;
  timeval tv{};
  gettimeofday(&tv, nullptr);
  if (tv.tv_sec != cached_second) {
    tm parts{};
    gmtime_r(&tv.tv_sec, &parts);
    cached_length = strftime(cached_prefix, sizeof(cached_prefix), "%Y-%m-%dT%H:%M:%S", &parts);
    cached_second = tv.tv_sec;
  }
  std::memcpy(out, cached_prefix, cached_length);
  char* p = out + cached_length;
  *p++ = '.';
  long usec = static_cast<long>(tv.tv_usec);
  for (int i = 5; i >= 0; --i) {
    p[i] = static_cast<char>('0' + usec % 10);
    usec /= 10;
  }
  p += 6;
  *p++ = 'Z';
  return static_cast<size_t>(p - out);
}

}  // namespace

std::string NowUtc() {
  char buf[kTimestampBytes];
  return std::string(buf, FormatNow(buf));
}

void Write(Level level, std::string_view message) {
  char stamp[kTimestampBytes];
  const size_t stamp_length = FormatNow(stamp);
  const std::string_view level_name = LevelName(level);
  std::lock_guard lock(g_mutex);
  g_buffer.append(stamp, stamp_length);
  g_buffer += ' ';
  g_buffer += level_name;
  g_buffer += ' ';
  g_buffer += message;
  g_buffer += '\n';
  if (level <= Level::kWarn || g_buffer.size() >= kFlushThreshold) FlushLocked();
}

void Flush() {
  std::lock_guard lock(g_mutex);
  FlushLocked();
}

}  // namespace picket::log
