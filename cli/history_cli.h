// Shared by `picket log`, `picket stats` and `picket top`: their command-line options and opening
// the event log read-only.
//
// They read picketd's SQLite event log directly (default /var/lib/picket/history.db, --db FILE to
// choose another). The file is root-only (mode 0600: it holds every user's command lines), so
// these commands normally run as root; the UI protocol will serve the same queries to authorized
// users.
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/history_reader.h"

namespace picket::cli {

inline constexpr const char* kDefaultHistoryPath = "/var/lib/picket/history.db";

struct HistoryOptions {
  std::string db = kDefaultHistoryPath;
  EventFilter filter;  // --since --until --exe --host --verdict --rule --limit
  bool json = false;
  bool help = false;
  bool limit_given = false;  // --limit was on the command line (commands with their own default)
};

// Parses args[1..] (args[0] is the command name). `allowed` lists the flags this command takes
// (without the leading "--"), e.g. {"since", "until", "json", "db", "limit"}. --limit must be a
// non-negative integer (0: no limit); --verdict one of allow, deny, reject. Both "--flag value" and
// "--flag=value" work. Errors name the flag and the value.
Result<HistoryOptions> ParseHistoryOptions(const std::vector<std::string>& args, const std::set<std::string>& allowed,
                                           int64_t now_us);

// Opens the event log read-only; the error explains a missing file and a permission problem.
Result<std::unique_ptr<HistoryReader>> OpenHistoryReader(const std::string& path);

// JSON string literal of `text` (quotes, backslashes and control characters escaped).
std::string JsonQuote(std::string_view text);

// Wall-clock microseconds since the Unix epoch.
int64_t NowMicros();

// "2025-01-31T14:05:09.123456Z"
std::string Iso8601Utc(int64_t time_us);

}  // namespace picket::cli
