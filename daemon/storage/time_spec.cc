#include "storage/time_spec.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <string>

namespace picket {
namespace {

constexpr int64_t kUsPerSecond = 1000000;

Error BadSpec(std::string_view text) {
  return Error{"bad time '" + std::string(text) +
               "' (expected e.g. 30s, 15m, 2h, 7d, 2w, today, yesterday, 2025-01-31, 2025-01-31T14:05, "
               "2025-01-31T14:05:09Z or @1738332309)"};
}

bool ParseNumber(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

int64_t LocalMidnight(int64_t now_us, int days_back) {
  const time_t now = static_cast<time_t>(now_us / kUsPerSecond);
  struct tm tm {};
  localtime_r(&now, &tm);
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_mday -= days_back;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&tm)) * kUsPerSecond;
}

Result<int64_t> ParseDateTime(std::string_view text) {
  bool utc = false;
  if (!text.empty() && (text.back() == 'Z' || text.back() == 'z')) {
    utc = true;
    text.remove_suffix(1);
  }
  struct tm tm {};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char sep = 0;
  const std::string s(text);
  int fields = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &year, &month, &day, &sep, &hour, &minute, &second);
  const bool date_only = fields == 3 && s.size() == 10;
  const bool with_time = (fields == 6 || fields == 7) && (sep == 'T' || sep == ' ');
  if (!date_only && !with_time) return Error{"not a date"};
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return Error{"date out of range"};
  }
  // Reject trailing garbage: re-format what was parsed and compare lengths.
  const size_t expected = date_only ? 10 : (fields == 6 ? 16 : 19);
  if (s.size() != expected) return Error{"trailing text"};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  const time_t t = utc ? timegm(&tm) : mktime(&tm);
  return static_cast<int64_t>(t) * kUsPerSecond;
}

}  // namespace

Result<int64_t> ParseTimeSpec(std::string_view text, int64_t now_us) {
  if (text == "today") return LocalMidnight(now_us, 0);
  if (text == "yesterday") return LocalMidnight(now_us, 1);
  if (text.starts_with('@')) {
    int64_t seconds = 0;
    if (!ParseNumber(text.substr(1), &seconds)) return BadSpec(text);
    return seconds * kUsPerSecond;
  }
  if (text.size() >= 2) {
    int64_t unit = 0;
    switch (text.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: break;
    }
    int64_t count = 0;
    if (unit != 0 && ParseNumber(text.substr(0, text.size() - 1), &count) && count >= 0) {
      return now_us - count * unit * kUsPerSecond;
    }
  }
  auto parsed = ParseDateTime(text);
  if (!parsed.ok()) return BadSpec(text);
  return *parsed;
}

std::string FormatLocalTime(int64_t time_us) {
  const time_t t = static_cast<time_t>(time_us / kUsPerSecond);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace picket
