// `picket log`: the decisions picketd recorded, filtered, oldest of the selection first.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "history_cli.h"
#include "storage/time_spec.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket log [--since T] [--until T] [--exe EXE] [--host HOST] [--verdict V] [--rule R]\n"
    "                  [--limit N] [--json] [--db FILE]\n"
    "\n"
    "Prints the decisions picketd recorded in its event log: the newest N (--limit, default 50;\n"
    "0 = all) that match every filter given, oldest first.\n"
    "  --since T, --until T  time window (since inclusive, until exclusive): 30s 15m 2h 7d 2w, today,\n"
    "                        yesterday, 2025-01-31, 2025-01-31T14:05[:09][Z], @UNIXSECONDS\n"
    "  --exe EXE             a path (exactly that executable) or a file name (any directory);\n"
    "                        'kernel' and 'unknown' select decisions without a process\n"
    "  --host HOST           a host name and its subdomains, or a destination IP address\n"
    "  --verdict V           allow, deny or reject\n"
    "  --rule R              a rule name, or default / unparsed for decisions no rule made\n"
    "  --json                one JSON array of objects with every column\n"
    "  --db FILE             the event log (default /var/lib/picket/history.db)\n";

constexpr size_t kDefaultLimit = 50;

std::string Endpoint(const std::string& ip, uint16_t port) {
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

void PrintText(const std::vector<StoredEvent>& events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    const EventRecord& r = it->record;
    const std::string who = r.exe.empty() ? r.attribution : r.exe + (r.pid ? "[" + std::to_string(*r.pid) + "]" : "");
    const std::string rule = r.rule.empty() ? std::string(DecidedByName(r.decided_by)) : r.rule;
    const std::string where = r.host.empty() ? Endpoint(r.dst_ip, r.dst_port)
                                             : r.host + " " + Endpoint(r.dst_ip, r.dst_port);
    std::printf("%s  %-6s %-20s %-7s %s  %s uid=%s\n", FormatLocalTime(r.time_us).c_str(), r.verdict.c_str(),
                rule.c_str(), r.protocol.c_str(), where.c_str(), who.c_str(),
                r.uid ? std::to_string(*r.uid).c_str() : "-");
  }
}

void Field(std::string& out, const char* name, const std::string& value) {
  out += ",";
  out += JsonQuote(name) + ":" + (value.empty() ? "null" : JsonQuote(value));
}

template <typename T>
void NumberField(std::string& out, const char* name, const std::optional<T>& value) {
  out += ",";
  out += JsonQuote(name) + ":" + (value ? std::to_string(*value) : "null");
}

void PrintJson(const std::vector<StoredEvent>& events) {
  std::string out = "[";
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    const EventRecord& r = it->record;
    if (out.size() > 1) out += ",";
    out += "\n  {\"id\":" + std::to_string(it->id);
    Field(out, "time", Iso8601Utc(r.time_us));
    out += ",\"time_us\":" + std::to_string(r.time_us);
    Field(out, "verdict", r.verdict);
    Field(out, "decided_by", std::string(DecidedByName(r.decided_by)));
    Field(out, "rule", r.rule);
    Field(out, "protocol", r.protocol);
    Field(out, "src_ip", r.src_ip);
    out += ",\"src_port\":" + std::to_string(r.src_port);
    Field(out, "dst_ip", r.dst_ip);
    out += ",\"dst_port\":" + std::to_string(r.dst_port);
    Field(out, "host", r.host);
    NumberField(out, "uid", r.uid);
    NumberField(out, "pid", r.pid);
    Field(out, "exec_id", r.exec_id);
    Field(out, "exe", r.exe);
    Field(out, "cmdline", r.cmdline);
    Field(out, "parent_exe", r.parent_exe);
    Field(out, "digest", r.digest);
    Field(out, "attribution", r.attribution);
    Field(out, "method", r.method);
    out += "}";
  }
  out += events.empty() ? "]\n" : "\n]\n";
  std::fputs(out.c_str(), stdout);
}

int RunLog(const std::vector<std::string>& args) {
  auto options = ParseHistoryOptions(
      args, {"since", "until", "exe", "host", "verdict", "rule", "limit", "json", "db"}, NowMicros());
  if (!options.ok()) {
    std::fprintf(stderr, "picket log: %s\n\n%s", options.error().message.c_str(), kHelp);
    return 2;
  }
  if (options->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!options->limit_given) options->filter.limit = kDefaultLimit;
  auto reader = OpenHistoryReader(options->db);
  if (!reader.ok()) {
    std::fprintf(stderr, "picket log: %s\n", reader.error().message.c_str());
    return 1;
  }
  auto events = (*reader)->Query(options->filter);
  if (!events.ok()) {
    std::fprintf(stderr, "picket log: %s\n", events.error().message.c_str());
    return 1;
  }
  if (options->json) {
    PrintJson(*events);
  } else {
    PrintText(*events);
  }
  return 0;
}

const Registration kLog{"log", "decisions from the event log, with filters (--since --exe --host --verdict ...)",
                        &RunLog};

}  // namespace
}  // namespace picket::cli
