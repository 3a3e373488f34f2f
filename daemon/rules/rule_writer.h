// Writing rules: a Rule as an OpenSnitch-format JSON object (the same shape ParseRule reads), and
// saving it as `<name>.json` atomically (temp file + fsync + rename, mode 0600).
//
// Pure functions apart from SaveRuleFile. Thread-safety: stateless.
#pragma once

#include <QJsonObject>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/rule.h"

namespace picket {

QJsonObject RuleToJson(const Rule& rule);

// One rule per file, indented, UTF-8, ending in a newline. ParseRule(SerializeRule(r)) gives back r's
// file fields.
std::string SerializeRule(const Rule& rule);

// Several rules as one JSON array (the `picket rules export` format).
std::string SerializeRules(const std::vector<Rule>& rules);

// Writes `rule` to DIR/<name>.json atomically with mode 0600.
Status SaveRuleFile(const std::string& dir, const Rule& rule);

}  // namespace picket
