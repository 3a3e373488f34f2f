// ParseRule: one OpenSnitch-format rule file (JSON bytes) → a compiled Rule (rules/rule.h).
//
// The format and Picket's reading of it are described in rules/FORMAT.md. Bad input never crashes
// and is never half-accepted: any field that is missing, of the wrong type, unknown, or not
// supported by this version rejects the whole rule with the field's JSON path and the reason.
// Pure functions over bytes; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"
#include "rules/rule.h"

namespace picket {

// Why a rule was rejected. `field` is the JSON path of the offending field ("action",
// "operator.list[1].operand", "operator.data[0].data" for the legacy list text), or empty when the
// input is not a JSON object at all.
struct RuleParseError {
  std::string field;
  std::string reason;

  std::string ToString() const;  // "field 'F': REASON", or just REASON when field is empty
};

// Limits that keep parsing and matching bounded.
inline constexpr size_t kMaxRuleFileBytes = 1 << 20;  // larger inputs are rejected unread
inline constexpr int kMaxOperatorDepth = 8;           // list operators nested in each other
inline constexpr size_t kMaxRegexpBytes = 64 * 1024;  // length of one pattern

std::variant<Rule, RuleParseError> ParseRuleDetailed(std::string_view json_bytes);

// As ParseRuleDetailed; the error message is RuleParseError::ToString().
Result<Rule> ParseRule(std::string_view json_bytes);

}  // namespace picket
