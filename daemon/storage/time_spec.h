// ParseTimeSpec: the time arguments of `picket log --since/--until` and `picket stats --since`.
//
// Accepted forms (all pure text, evaluated against the `now` passed in):
//   30s 15m 2h 7d 2w        that long before now
//   today | yesterday       local midnight of today / of the day before
//   2025-01-31              local midnight of that day
//   2025-01-31T14:05[:09]   local time (a space instead of 'T' works too); a trailing 'Z' means UTC
//   @1738332309             Unix seconds
// Errors name the text and list the accepted forms.
// Thread-safety: pure (reads the local time zone through localtime_r/mktime).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace picket {

// Microseconds since the Unix epoch.
Result<int64_t> ParseTimeSpec(std::string_view text, int64_t now_us);

// "2025-01-31 14:05:09" in local time, for human-readable output.
std::string FormatLocalTime(int64_t time_us);

}  // namespace picket
