// Parsing of a rule's `duration` field into a Lifetime (rules/rule.h).
//
// Pure functions over text; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "rules/rule.h"

namespace picket {

// "once", "until restart", "always", "until process exits" (Picket), or a Go duration (see
// ParseGoDuration). Error names the text.
Result<Lifetime> ParseLifetime(std::string_view text);

// A Go time.ParseDuration string: an optional sign, then one or more decimal numbers (with an
// optional fraction) each followed by a unit: ns, us (or µs/μs), ms, s, m, h — "30s", "1h30m",
// "1.5h", "90m". The result must be positive and fit in int64 nanoseconds (about 292 years).
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

// An RFC 3339 date-time ("2026-11-21T10:00:00Z", "2026-11-21T11:00:00.5+01:00") as a point in
// time; nullopt when `text` is not one.
std::optional<WallTime> ParseRfc3339(std::string_view text);

}  // namespace picket
