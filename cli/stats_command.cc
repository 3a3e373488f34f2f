// `picket stats`: decision counters — live from the running picketd (since it started), or from
// the event log over a time window (--since / --until / --db).
#include <QJsonObject>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "command.h"
#include "history_cli.h"
#include "storage/time_spec.h"
#include "ui/stats_json.h"
#include "ui_client.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket stats [--limit N] [--json] [--socket PATH]                  (live)\n"
    "       picket stats [--since T] [--until T] [--limit N] [--json] [--db FILE] (event log)\n"
    "\n"
    "Counts decisions by verdict, protocol, executable, host, destination port, user and rule,\n"
    "showing each dimension's N largest (--limit, default 10; 0 = all).\n"
    "Live (no --since, --until or --db): asks the running picketd over its UI socket for its\n"
    "counters since it started — every decision, also those the event log dropped or `nolog`\n"
    "rules kept out of it — and its pipeline counters. picketd keeps at most 4096 keys per\n"
    "dimension; further keys are counted under \"(other)\".\n"
    "Event log (--since, --until or --db given): counts the rows of the SQLite event log, all of\n"
    "it or the window --since/--until (see `picket log --help` for the time forms).\n";

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

bool WantsEventLog(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a.starts_with("--since") || a.starts_with("--until") || a.starts_with("--db")) return true;
  }
  return false;
}

int RunLiveStats(const std::vector<std::string>& args) {
  const SocketOptions options = ParseSocketOptions(args);
  size_t top = kDefaultTop;
  for (size_t i = 0; i < options.rest.size(); ++i) {
    char* end = nullptr;
    if (options.rest[i] == "--limit" && i + 1 < options.rest.size()) {
      const long long n = std::strtoll(options.rest[++i].c_str(), &end, 10);
      if (*end == '\0' && n >= 0 && n <= ui::kMaxStatsTop) {
        top = static_cast<size_t>(n);
        continue;
      }
      std::fprintf(stderr, "picket stats: --limit: expected an integer 0..%lld, got '%s'\n",
                   static_cast<long long>(ui::kMaxStatsTop), options.rest[i].c_str());
      return 2;
    }
    std::fprintf(stderr, "picket stats: unexpected argument '%s'\n\n%s", options.rest[i].c_str(), kHelp);
    return 2;
  }
  auto client = ConnectOrReport("stats", options.socket);
  if (!client) return 1;
  auto data = CallForData(*client, ui::StatsRequest{1, top}, std::chrono::milliseconds(5000));
  if (!data.ok()) {
    std::fprintf(stderr, "picket stats: %s\n", data.error().message.c_str());
    return 1;
  }
  if (options.json) {
    QJsonObject out = *data;
    out["live"] = true;
    PrintJsonLine(out);
    return 0;
  }
  std::printf("live, since picketd started:\n");
  const QJsonObject counters = data->value(QLatin1String("counters")).toObject();
  for (auto it = counters.begin(); it != counters.end(); ++it) {
    std::printf("  %-20s %s\n", it.key().toStdString().c_str(), ui::EncodeValue(it.value()).c_str());
  }
  std::printf("\n");
  PrintText(StatsSnapshotFromJson(data->value(QLatin1String("decisions")).toObject()), TimeWindow{});
  return 0;
}

int RunStats(const std::vector<std::string>& args) {
  if (!WantsEventLog(args) && std::find(args.begin(), args.end(), "--help") == args.end() &&
      std::find(args.begin(), args.end(), "-h") == args.end()) {
    return RunLiveStats(args);
  }
  auto options = ParseHistoryOptions(args, {"since", "until", "limit", "json", "db"}, NowMicros());
  if (!options.ok()) {
    std::fprintf(stderr, "picket stats: %s\n\n%s", options.error().message.c_str(), kHelp);
    return 2;
  }
  if (options->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const size_t top = options->limit_given ? options->filter.limit : kDefaultTop;
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
