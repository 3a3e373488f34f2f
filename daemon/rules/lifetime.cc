#include "rules/lifetime.h"

#include <cstdint>
#include <limits>
#include <string>

namespace picket {
namespace {

constexpr uint64_t kMaxNanos = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Nanoseconds per unit, or 0 when `unit` is not a Go duration unit.
uint64_t UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return 0;
}

Error DurationError(std::string_view text, std::string_view why) {
  return Error{"'" + std::string(text) + "' is not a duration: " + std::string(why)};
}

// One "<number><unit>" component; advances `rest`. Adds its value in nanoseconds to `total`.
Status ParseComponent(std::string_view text, std::string_view& rest, uint64_t& total) {
  unsigned __int128 whole = 0;
  size_t i = 0;
  size_t digits = 0;
  for (; i < rest.size() && IsDigit(rest[i]); ++i, ++digits) {
    whole = whole * 10 + static_cast<unsigned>(rest[i] - '0');
    if (whole > kMaxNanos) return DurationError(text, "too large");
  }
  uint64_t frac = 0;
  uint64_t scale = 1;
  if (i < rest.size() && rest[i] == '.') {
    for (++i; i < rest.size() && IsDigit(rest[i]); ++i, ++digits) {
      if (scale < 1'000'000'000'000'000'000ULL) {  // further digits are below a nanosecond
        frac = frac * 10 + static_cast<unsigned>(rest[i] - '0');
        scale *= 10;
      }
    }
  }
  if (digits == 0) return DurationError(text, "expected a number");
  const size_t unit_start = i;
  while (i < rest.size() && rest[i] != '.' && !IsDigit(rest[i])) ++i;
  const std::string_view unit = rest.substr(unit_start, i - unit_start);
  if (unit.empty()) return DurationError(text, "missing unit (ns, us, ms, s, m, h)");
  const uint64_t unit_nanos = UnitNanos(unit);
  if (unit_nanos == 0) {
    return DurationError(text, "unknown unit '" + std::string(unit) + "' (ns, us, ms, s, m, h)");
  }
  const unsigned __int128 value =
      whole * unit_nanos + static_cast<unsigned __int128>(frac) * unit_nanos / scale;
  if (value > kMaxNanos || total + value > kMaxNanos) return DurationError(text, "too large");
  total += static_cast<uint64_t>(value);
  rest.remove_prefix(i);
  return OkStatus();
}

}  // namespace

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest.empty()) return DurationError(text, "empty");
  uint64_t total = 0;
  if (rest != "0") {
    while (!rest.empty()) {
      Status status = ParseComponent(text, rest, total);
      if (!status.ok()) return status.error();
    }
  }
  if (negative || total == 0) return DurationError(text, "must be positive");
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

std::optional<WallTime> ParseRfc3339(std::string_view t) {
  auto digits = [&t](size_t pos, size_t count) -> int {
    if (pos + count > t.size()) return -1;
    int value = 0;
    for (size_t i = pos; i < pos + count; ++i) {
      if (!IsDigit(t[i])) return -1;
      value = value * 10 + (t[i] - '0');
    }
    return value;
  };
  const int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const int hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  if (t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  std::chrono::nanoseconds since_midnight = std::chrono::hours(hour) + std::chrono::minutes(minute) +
                                            std::chrono::seconds(second);
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    const size_t first = ++pos;
    int64_t scale = 100'000'000;
    while (pos < t.size() && IsDigit(t[pos])) {
      since_midnight += std::chrono::nanoseconds((t[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == first) return std::nullopt;
  }
  const std::string_view zone = t.substr(pos);
  std::chrono::minutes offset{0};
  if (zone != "Z" && zone != "z") {
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') return std::nullopt;
    const int zone_hour = digits(pos + 1, 2), zone_minute = digits(pos + 4, 2);
    if (zone_hour < 0 || zone_hour > 23 || zone_minute < 0 || zone_minute > 59) return std::nullopt;
    offset = std::chrono::minutes(zone_hour * 60 + zone_minute);
    if (zone[0] == '-') offset = -offset;
  }
  const auto local = std::chrono::sys_days(date) + since_midnight;
  return std::chrono::time_point_cast<WallTime::duration>(local - offset);
}

Result<Lifetime> ParseLifetime(std::string_view text) {
  if (text == "once") return Lifetime{LifetimeKind::kOnce, {}};
  if (text == "until restart") return Lifetime{LifetimeKind::kUntilRestart, {}};
  if (text == "always") return Lifetime{LifetimeKind::kAlways, {}};
  if (text == "until process exits") return Lifetime{LifetimeKind::kUntilProcessExits, {}};
  Result<std::chrono::nanoseconds> timeout = ParseGoDuration(text);
  if (!timeout.ok()) {
    return Error{timeout.error().message +
                 " (expected once, until restart, always, until process exits, or a duration such as 30s, 5m, 1h30m)"};
  }
  return Lifetime{LifetimeKind::kTimed, *timeout};
}

}  // namespace picket
