// HistoryReader: read-only queries over the event log (the `picket log`, `picket stats` and
// `picket top` commands, and later the UI protocol's history pages).
//
// Opens the database read-only (WAL readers never block picketd's writer, nor it them) and refuses
// a file that is not Picket's or whose schema this build does not know. Every query is a prepared
// statement with bound parameters; filters never build SQL from user text.
// Filters:
//   exe      a path ("/usr/bin/curl": exactly that executable) or a file name ("curl": any
//            executable of that name, whatever its directory)
//   host     a name: that host and its subdomains ("example.org" matches "api.example.org")
//   verdict  allow | deny | reject
//   rule     a rule name, or default | prompt | timeout | unparsed for decisions no rule made
// Ownership: owns its connection. Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/event.h"
#include "storage/sqlite_db.h"
#include "storage/stats.h"

namespace picket {

struct TimeWindow {
  std::optional<int64_t> since_us;  // inclusive
  std::optional<int64_t> until_us;  // exclusive
};

struct EventFilter {
  TimeWindow window;
  std::string exe;
  std::string host;
  std::string verdict;
  std::string rule;
  size_t limit = 100;  // newest first; 0 = no limit
};

struct StoredEvent {
  int64_t id = 0;
  EventRecord record;
};

struct TopProgram {
  std::string exe;  // "kernel" / "unknown" for decisions without a process
  uint64_t connections = 0;
  uint64_t blocked = 0;  // deny + reject
  uint64_t hosts = 0;    // distinct destinations (host name, else IP)
};

struct TopHost {
  std::string host;  // host name, else destination IP
  uint64_t connections = 0;
  uint64_t blocked = 0;
  uint64_t programs = 0;  // distinct executables
};

class HistoryReader {
 public:
  static Result<std::unique_ptr<HistoryReader>> Open(const std::string& path);

  // Matching decisions, newest first.
  Result<std::vector<StoredEvent>> Query(const EventFilter& filter);
  // Counters over the window, each dimension's `top_n` largest keys (all keys when 0).
  Result<StatsSnapshot> Stats(const TimeWindow& window, size_t top_n);
  Result<std::vector<TopProgram>> TopPrograms(const TimeWindow& window, size_t limit);
  Result<std::vector<TopHost>> TopHosts(const TimeWindow& window, size_t limit);

 private:
  template <typename Row>
  Result<std::vector<Row>> TopBy(const char* key, const char* other, const TimeWindow& window, size_t limit);
  explicit HistoryReader(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  std::unique_ptr<SqliteDb> db_;
};

// Escapes % _ and \ for a LIKE pattern with ESCAPE '\'.
std::string EscapeLike(std::string_view text);

}  // namespace picket
