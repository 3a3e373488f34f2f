// Decision statistics: counters by verdict, protocol, executable, host, port, user and rule.
//
// StatsSnapshot is the one shape for both sources: LiveStats (since picketd started, kept in memory
// by the daemon for `picket stats` over the UI protocol) and HistoryReader::Stats (any time window,
// from the database). Keys, the same in both:
//   verdict allow|deny|reject · protocol tcp|udp6|… · exe the path, else kernel|unknown ·
//   host the name, else the destination IP · port the destination port · user the uid, else "-" ·
//   rule the rule name, else default|prompt|timeout|unparsed.
// LiveStats keeps at most `max_keys` keys per dimension; counts for further keys go to the key
// "(other)" and are counted in `overflowed`, so memory stays bounded whatever the traffic.
// Thread-safety: LiveStats belongs to one thread (the event loop); snapshots are plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/event.h"

namespace picket {

struct CountRow {
  std::string key;
  uint64_t count = 0;
  bool operator==(const CountRow&) const = default;
};

struct StatsSnapshot {
  uint64_t total = 0;
  std::vector<CountRow> by_verdict;  // each sorted by count, descending, then key
  std::vector<CountRow> by_protocol;
  std::vector<CountRow> by_exe;
  std::vector<CountRow> by_host;
  std::vector<CountRow> by_port;
  std::vector<CountRow> by_user;
  std::vector<CountRow> by_rule;
};

// The dimension keys of one record (see the header comment).
std::string_view StatsExeKey(const EventRecord& r);
std::string_view StatsHostKey(const EventRecord& r);
std::string_view StatsRuleKey(const EventRecord& r);

inline constexpr std::string_view kStatsOtherKey = "(other)";

class LiveStats {
 public:
  explicit LiveStats(size_t max_keys = 4096) : max_keys_(max_keys) {}

  void Count(const EventRecord& record);
  // Each dimension's `top_n` largest keys (all when 0).
  StatsSnapshot Snapshot(size_t top_n) const;
  uint64_t overflowed() const { return overflowed_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Counter = std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>>;
  void Bump(Counter& counter, std::string_view key);

  size_t max_keys_;
  uint64_t total_ = 0;
  uint64_t overflowed_ = 0;
  Counter verdict_, protocol_, exe_, host_, port_, user_, rule_;
};

// Sorts by count descending, then key ascending, and keeps the first `top_n` (all when 0).
std::vector<CountRow> TopRows(std::vector<CountRow> rows, size_t top_n);

}  // namespace picket
