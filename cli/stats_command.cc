// `picket stats`: decision counters from the event log over a time window.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "history_cli.h"
#include "storage/time_spec.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket stats [--since T] [--until T] [--limit N] [--json] [--db FILE]\n"
    "\n"
    "Counts the decisions in the event log (all of it, or the window --since/--until; see\n"
    "`picket log --help` for the time forms) by verdict, protocol, executable, host, destination\n"
    "port, user and rule, showing each dimension's N largest (--limit, default 10; 0 = all).\n"
    "Counters since picketd started, including decisions the log dropped, are in picketd's\n"
    "'counters:' lines and (with the UI protocol) its live statistics.\n";

constexpr size_t kDefaultTop = 10;

struct Dimension {
  const char* name;
  const std::vector<CountRow>* rows;
};

std::vector<Dimension> Dimensions(const StatsSnapshot& s) {
  return {{"verdict", &s.by_verdict}, {"protocol", &s.by_protocol}, {"exe", &s.by_exe}, {"host", &s.by_host},
          {"port", &s.by_port},       {"user", &s.by_user},         {"rule", &s.by_rule}};
}

void PrintJson(const StatsSnapshot& s, const TimeWindow& window) {
  std::string out = "{\"total\":" + std::to_string(s.total);
  out += ",\"since\":" + (window.since_us ? JsonQuote(Iso8601Utc(*window.since_us)) : "null");
  out += ",\"until\":" + (window.until_us ? JsonQuote(Iso8601Utc(*window.until_us)) : "null");
  for (const Dimension& d : Dimensions(s)) {
    out += ",\n \"" + std::string(d.name) + "\":[";
    bool first = true;
    for (const CountRow& row : *d.rows) {
      out += (first ? "" : ",") + std::string("{\"key\":") + JsonQuote(row.key) + ",\"count\":" + std::to_string(row.count) + "}";
      first = false;
    }
    out += "]";
  }
  out += "}\n";
  std::fputs(out.c_str(), stdout);
}

void PrintText(const StatsSnapshot& s, const TimeWindow& window) {
  std::printf("%llu decisions", static_cast<unsigned long long>(s.total));
  if (window.since_us) std::printf(" since %s", FormatLocalTime(*window.since_us).c_str());
  if (window.until_us) std::printf(" until %s", FormatLocalTime(*window.until_us).c_str());
  std::printf("\n");
  for (const Dimension& d : Dimensions(s)) {
    if (d.rows->empty()) continue;
    std::printf("\nby %s:\n", d.name);
    for (const CountRow& row : *d.rows) {
      std::printf("  %10llu  %s\n", static_cast<unsigned long long>(row.count), row.key.c_str());
    }
  }
}

int RunStats(const std::vector<std::string>& args) {
  auto options = ParseHistoryOptions(args, {"since", "until", "limit", "json", "db"}, NowMicros());
  if (!options.ok()) {
    std::fprintf(stderr, "picket stats: %s\n\n%s", options.error().message.c_str(), kHelp);
    return 2;
  }
  if (options->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  bool limit_given = false;
  for (const std::string& a : args) limit_given = limit_given || a.starts_with("--limit");
  const size_t top = limit_given ? options->filter.limit : kDefaultTop;
  auto reader = OpenHistoryReader(options->db);
  if (!reader.ok()) {
    std::fprintf(stderr, "picket stats: %s\n", reader.error().message.c_str());
    return 1;
  }
  auto stats = (*reader)->Stats(options->filter.window, top);
  if (!stats.ok()) {
    std::fprintf(stderr, "picket stats: %s\n", stats.error().message.c_str());
    return 1;
  }
  if (options->json) {
    PrintJson(*stats, options->filter.window);
  } else {
    PrintText(*stats, options->filter.window);
  }
  return 0;
}

const Registration kStats{"stats", "decision counters by verdict, program, host, port, user, rule (--since ...)",
                          &RunStats};

}  // namespace
}  // namespace picket::cli
