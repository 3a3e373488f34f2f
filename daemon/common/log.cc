#include "common/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
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

std::string NowUtc() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm parts{};
  gmtime_r(&tv.tv_sec, &parts);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &parts);
  snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", static_cast<long>(tv.tv_usec));
  return buf;
}

void Write(Level level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 40);
  line += NowUtc();
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += message;
  line += '\n';
  std::lock_guard lock(g_mutex);
  g_buffer += line;
  if (level <= Level::kWarn || g_buffer.size() >= kFlushThreshold) FlushLocked();
}

void Flush() {
  std::lock_guard lock(g_mutex);
  FlushLocked();
}

}  // namespace picket::log
