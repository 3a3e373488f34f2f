// Logging: one line per message to stderr, with a UTC timestamp and level.
//
//   PLOG(kInfo) << "firewall backend: " << name;
//
// Lines are appended to an in-memory buffer and written when the buffer passes a size threshold,
// on Flush(), or at once for warnings and errors. The event loop calls Flush() after each batch
// of packets, so a burst of decisions costs one write(2), not one per line.
// Thread-safety: the level is atomic; the buffer is guarded by a mutex, so any thread may log.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

#include "common/result.h"

namespace picket::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

Result<Level> ParseLevel(std::string_view name);  // "error" | "warn" | "info" | "debug"
std::string_view LevelName(Level level);

void SetLevel(Level level);
Level GetLevel();
inline bool Enabled(Level level) { return static_cast<int>(level) <= static_cast<int>(GetLevel()); }

// Appends one complete line (a newline is added). Writes at once for kWarn and kError.
void Write(Level level, std::string_view message);
void Flush();

// Redirects output (default: fd 2). Used by tests to capture lines. The fd is not owned.
void SetOutputFd(int fd);

// Formats the current wall-clock time as "2026-11-21T20:47:01.123456Z".
std::string NowUtc();

class LineBuilder {
 public:
  explicit LineBuilder(Level level) : level_(level) {}
  LineBuilder(const LineBuilder&) = delete;
  LineBuilder& operator=(const LineBuilder&) = delete;
  ~LineBuilder() { Write(level_, stream_.str()); }
  template <typename T>
  LineBuilder& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream stream_;
};

}  // namespace picket::log

// A for statement (not if/else) so that `if (x) PLOG(kInfo) << ...;` has no dangling else.
#define PLOG(level)                                                                            \
  for (bool picket_log_on_ = ::picket::log::Enabled(::picket::log::Level::level); picket_log_on_; \
       picket_log_on_ = false)                                                                 \
  ::picket::log::LineBuilder(::picket::log::Level::level)
