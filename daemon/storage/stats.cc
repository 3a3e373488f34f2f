#include "storage/stats.h"

#include <algorithm>
#include <cstdio>

namespace picket {

std::string_view StatsExeKey(const EventRecord& r) { return r.exe.empty() ? std::string_view(r.attribution) : r.exe; }
std::string_view StatsHostKey(const EventRecord& r) { return r.host.empty() ? std::string_view(r.dst_ip) : r.host; }
std::string_view StatsRuleKey(const EventRecord& r) {
  return r.rule.empty() ? DecidedByName(r.decided_by) : std::string_view(r.rule);
}

std::vector<CountRow> TopRows(std::vector<CountRow> rows, size_t top_n) {
  std::sort(rows.begin(), rows.end(), [](const CountRow& a, const CountRow& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (top_n > 0 && rows.size() > top_n) rows.resize(top_n);
  return rows;
}

void LiveStats::Bump(Counter& counter, std::string_view key) {
  auto it = counter.find(key);
  if (it != counter.end()) {
    ++it->second;
    return;
  }
  // The last of the max_keys_ slots is kept for "(other)".
  if (counter.size() + 1 >= max_keys_ && key != kStatsOtherKey) {
    ++overflowed_;
    key = kStatsOtherKey;
  }
  ++counter[std::string(key)];
}

void LiveStats::Count(const EventRecord& r) {
  ++total_;
  Bump(verdict_, r.verdict);
  Bump(protocol_, r.protocol);
  Bump(exe_, StatsExeKey(r));
  Bump(host_, StatsHostKey(r));
  char port[8];
  const int n = std::snprintf(port, sizeof(port), "%u", static_cast<unsigned>(r.dst_port));
  Bump(port_, std::string_view(port, static_cast<size_t>(n)));
  if (r.uid) {
    char uid[16];
    const int m = std::snprintf(uid, sizeof(uid), "%u", *r.uid);
    Bump(user_, std::string_view(uid, static_cast<size_t>(m)));
  } else {
    Bump(user_, "-");
  }
  Bump(rule_, StatsRuleKey(r));
}

StatsSnapshot LiveStats::Snapshot(size_t top_n) const {
  auto rows = [top_n](const Counter& counter) {
    std::vector<CountRow> out;
    out.reserve(counter.size());
    for (const auto& [key, count] : counter) out.push_back({key, count});
    return TopRows(std::move(out), top_n);
  };
  return StatsSnapshot{total_, rows(verdict_), rows(protocol_), rows(exe_), rows(host_),
                       rows(port_), rows(user_), rows(rule_)};
}

}  // namespace picket
