#include "history_cli.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

#include "storage/time_spec.h"

namespace picket::cli {
namespace {

Result<size_t> ParseCount(const std::string& flag, const std::string& value) {
  size_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    return Error{"--" + flag + ": expected a number (0 = no limit), got '" + value + "'"};
  }
  return n;
}

}  // namespace

Result<HistoryOptions> ParseHistoryOptions(const std::vector<std::string>& args, const std::set<std::string>& allowed,
                                           int64_t now_us) {
  HistoryOptions o;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (!arg.starts_with("--")) return Error{"unexpected argument '" + arg + "'"};
    std::string flag = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (!allowed.contains(flag)) return Error{"unknown option '--" + flag + "'"};
    if (flag == "json") {
      if (value) return Error{"--json takes no value"};
      o.json = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return Error{"--" + flag + " needs a value"};
      value = args[++i];
    }
    if (flag == "since" || flag == "until") {
      auto t = ParseTimeSpec(*value, now_us);
      if (!t.ok()) return Error{"--" + flag + ": " + t.error().message};
      (flag == "since" ? o.filter.window.since_us : o.filter.window.until_us) = *t;
    } else if (flag == "limit") {
      auto n = ParseCount(flag, *value);
      if (!n.ok()) return n.error();
      o.filter.limit = *n;
      o.limit_given = true;
    } else if (flag == "verdict") {
      if (*value != "allow" && *value != "deny" && *value != "reject") {
        return Error{"--verdict: expected allow, deny or reject, got '" + *value + "'"};
      }
      o.filter.verdict = *value;
    } else if (value->empty()) {
      return Error{"--" + flag + " needs a non-empty value"};
    } else if (flag == "exe") {
      o.filter.exe = *value;
    } else if (flag == "host") {
      o.filter.host = *value;
    } else if (flag == "rule") {
      o.filter.rule = *value;
    } else if (flag == "db") {
      o.db = *value;
    }
  }
  return o;
}

Result<std::unique_ptr<HistoryReader>> OpenHistoryReader(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    return Error{"no event log at " + path + " (picketd writes it while running with history on; --db FILE reads another)"};
  }
  if (access(path.c_str(), R_OK) != 0) {
    return Error{"cannot read " + path + ": " + std::strerror(errno) +
                 " (the event log holds every user's command lines and is readable by root only)"};
  }
  return HistoryReader::Open(path);
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  return out + "\"";
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Iso8601Utc(int64_t time_us) {
  const time_t seconds = static_cast<time_t>(time_us / 1000000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06lldZ", static_cast<long long>(time_us % 1000000));
  return buf;
}

}  // namespace picket::cli
